"""Create the first admin account, once, with a generated password printed a single time."""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create an 'admin' superuser when there is no superuser yet, and print its password once."

    def add_arguments(self, parser):
        parser.add_argument("--username", default=os.environ.get("ADMIN_USERNAME", "admin"))

    def handle(self, *args, username: str, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("Admin account exists (reset a password with: manage.py changepassword NAME).")
            return
        password = os.environ.get("ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username=username, email="", password=password)
        group = Group.objects.filter(name="admin").first()
        if group:
            user.groups.add(group)
        line = "=" * 60
        self.stdout.write(f"{line}\nFirst admin login (shown only this once):\n")
        self.stdout.write(f"  user:     {username}\n  password: {password}\n{line}")
