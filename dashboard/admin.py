"""The admin site's name; the dashboard app itself has no models (its roles are auth Groups)."""

from django.contrib import admin

admin.site.site_header = "Script Runner administration"
admin.site.site_title = "Script Runner admin"
admin.site.index_title = "Records"
admin.site.site_url = "/"
