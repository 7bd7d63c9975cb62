from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "contexts.users"
    label = "users"
    verbose_name = "Users"
    default_auto_field = "django.db.models.BigAutoField"
