"""Create the first admin account, once, with a generated password printed a single time."""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction


class Command(BaseCommand):
    help = (
        "Create an 'admin' superuser when there is no superuser yet, and print its password once "
        "(or take it from ADMIN_PASSWORD)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default=os.environ.get("ADMIN_USERNAME", "admin"))

    def handle(self, *args, username: str, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("Admin account exists (reset a password with: manage.py changepassword NAME).")
            return
        if User.objects.filter(username=username).exists():
            raise CommandError(
                f"user '{username}' exists but is not a superuser; pick another --username "
                "or promote it with: manage.py createsuperuser"
            )
        given = os.environ.get("ADMIN_PASSWORD")
        password = given or secrets.token_urlsafe(12)
        try:
            with transaction.atomic():
                user = User.objects.create_superuser(username=username, email="", password=password)
        except IntegrityError:
            # Two servers starting together: the other one made it (and printed its password).
            self.stdout.write("Admin account exists (reset a password with: manage.py changepassword NAME).")
            return
        group = Group.objects.filter(name="admin").first()
        if group:
            user.groups.add(group)
        line = "=" * 60
        if given:
            # The operator chose it: keep it out of the logs.
            self.stdout.write(f"Created admin user '{username}' with the password from ADMIN_PASSWORD.")
            return
        self.stdout.write(f"{line}\nFirst admin login (shown only this once):\n")
        self.stdout.write(f"  user:     {username}\n  password: {password}\n{line}")
