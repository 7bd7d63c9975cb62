"""The admin's sign-in with the API's limits: the per-IP ``auth`` allowance and the email lockout.

``POST /admin/login/`` is a second door to the same accounts as
``POST /api/auth/token``, so it shares both of its limits: an attempt first
counts against the client IP's ``auth`` allowance (the same counters as the
API's sign-in and registration), then a locked-out email is refused before its
password is checked. Both refusals answer 429 with ``Retry-After``. A failed
admin sign-in (wrong password, unknown or inactive account, or an account that
is not staff) counts towards the email's lockout like a failed API sign-in; a
successful one clears the count. Showing the form (``GET``) is not an attempt.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache

from contexts.kernel.throttling import auth_attempt_wait
from contexts.users import lockout
from contexts.users.errors import LoginLocked


class LockoutAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin's login form, counting each refused sign-in towards the email's lockout."""

    def clean(self):
        email = self.cleaned_data.get("username")
        try:
            cleaned = super().clean()
        except ValidationError:
            # Only a checked password counts: an incomplete form is not a guess.
            if email and self.cleaned_data.get("password"):
                lockout.login_record_failure(email=email)
            raise
        lockout.login_record_success(email=self.cleaned_data["username"])
        return cleaned


def _refused(detail: str, retry_after: int) -> HttpResponse:
    response = HttpResponse(
        f"{detail} Try again in {retry_after} seconds.\n",
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(retry_after)
    return response


@never_cache
def admin_login(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
    """``/admin/login/``: the admin site's own login view behind the sign-in limits."""
    if request.method == "POST":
        wait = auth_attempt_wait(request)
        if wait is not None:
            return _refused("Too many sign-in attempts from this address.", wait)
        try:
            lockout.login_ensure_allowed(email=request.POST.get("username", ""))
        except LoginLocked as locked:
            return _refused(locked.detail, locked.retry_after)
    return admin.site.login(request, extra_context)
