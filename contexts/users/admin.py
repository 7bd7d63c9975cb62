"""Admin for accounts, with their profile and preferences inline."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db import models

from contexts.users.admin_login import LockoutAdminAuthenticationForm
from contexts.users.lockout import login_unlock
from contexts.users.models import User, UserPreferences, UserProfile, normalize_email

# A refused admin sign-in counts towards the email's lockout like a refused API one
# (the limits themselves are applied by admin_login.admin_login, mounted at /admin/login/).
admin.site.login_form = LockoutAdminAuthenticationForm


class _EmailNormalizingForm(forms.ModelForm):
    def clean_email(self) -> str:
        # Stored lower-cased, so the unique checks see the stored value.
        return normalize_email(self.cleaned_data["email"])


class UserCreationAdminForm(_EmailNormalizingForm, AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "name")


class UserChangeAdminForm(_EmailNormalizingForm, UserChangeForm):
    class Meta:
        model = User
        fields = (
            "email",
            "password",
            "name",
            "is_active",
            "is_staff",
            "is_superuser",
            "groups",
            "user_permissions",
        )


class UserProfileInline(admin.StackedInline):
    model = UserProfile
    can_delete = False
    extra = 0
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


class UserPreferencesInline(admin.StackedInline):
    model = UserPreferences
    can_delete = False
    extra = 0


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeAdminForm
    add_form = UserCreationAdminForm
    inlines = (UserProfileInline, UserPreferencesInline)
    list_display = ("email", "name", "is_active", "is_staff", "date_joined")
    list_filter = ("is_active", "is_staff", "is_superuser", "groups")
    search_fields = ("email", "name", "id")
    ordering = ("email",)
    readonly_fields = ("id", "last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("id", "email", "password")}),
        ("Personal info", {"fields": ("name",)}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "name", "usable_password", "password1", "password2"),
            },
        ),
    )

    actions = ("unlock_sign_in",)

    def has_unlock_permission(self, request) -> bool:
        return request.user.has_perm("users.change_user")

    @admin.action(
        description="Unlock the sign-in of the selected accounts (locked out after failures)",
        permissions=["unlock"],
    )
    def unlock_sign_in(self, request, queryset) -> None:
        emails = list(queryset.values_list("email", flat=True))
        unlocked = sum(login_unlock(email=email) for email in emails)
        self.message_user(
            request,
            f"{unlocked} of {len(emails)} account(s) were locked out and are unlocked now.",
            messages.SUCCESS,
        )

    def get_inlines(self, request, obj):
        # The add form creates the account first; its rows are then created below.
        return self.inlines if obj is not None else ()

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # Every account has a profile and preferences, however it was created.
        UserProfile.objects.get_or_create(user=form.instance)
        UserPreferences.objects.get_or_create(user=form.instance)
