"""Admin for the event machinery: outbox, inbox and dead letters (with replay).

The kernel's tables exist in every context's database. In split mode the
changelists have a "database" filter (``?db=<alias>``); without it they show
the default database. A row's page finds the row in whichever database holds
it (primary keys are UUIDs).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.core.exceptions import ValidationError

from contexts.kernel.delivery import replay_dead_letters
from contexts.kernel.models import DeadLetter, InboxMessage, OutboxMessage
from contexts.kernel.relay import database_contexts

DB_PARAM = "db"


class DatabaseFilter(admin.SimpleListFilter):
    """Pick the database whose rows are listed (shown only in split mode)."""

    title = "database"
    parameter_name = DB_PARAM

    def lookups(self, request, model_admin):
        return [(alias, alias) for alias in database_contexts()]

    def has_output(self) -> bool:
        return len(self.lookup_choices) > 1

    def queryset(self, request, queryset):
        return queryset  # the ModelAdmin's get_queryset already chose the database


class EventTableAdmin(admin.ModelAdmin):
    """Read-only, database-aware admin for a kernel table."""

    def _alias(self, request) -> str:
        alias = request.GET.get(DB_PARAM, "")
        return alias if alias in database_contexts() else "default"

    def get_queryset(self, request):
        return super().get_queryset(request).using(self._alias(request))

    def get_object(self, request, object_id, from_field=None):
        for alias in database_contexts():
            try:
                return self.model._default_manager.using(alias).get(pk=object_id)
            except (self.model.DoesNotExist, ValidationError, ValueError):
                continue
        return None

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(OutboxMessage)
class OutboxMessageAdmin(EventTableAdmin):
    list_display = (
        "event_name",
        "event_version",
        "context",
        "event_id",
        "created_at",
        "published_at",
    )
    list_filter = (DatabaseFilter, "context", "event_name")
    search_fields = ("=event_id", "=correlation_id")
    date_hierarchy = "created_at"


@admin.register(InboxMessage)
class InboxMessageAdmin(EventTableAdmin):
    list_display = (
        "event_name",
        "handler",
        "status",
        "attempts",
        "received_at",
        "processed_at",
        "next_attempt_at",
    )
    list_filter = (DatabaseFilter, "status", "context", "event_name")
    search_fields = ("=event_id", "handler")


@admin.register(DeadLetter)
class DeadLetterAdmin(EventTableAdmin):
    list_display = ("event_name", "handler", "attempts", "created_at", "replayed_at", "short_error")
    list_filter = (
        DatabaseFilter,
        "context",
        "event_name",
        ("replayed_at", admin.EmptyFieldListFilter),
    )
    search_fields = ("=event_id", "handler", "error")
    actions = ["replay"]

    @admin.display(description="error")
    def short_error(self, obj: DeadLetter) -> str:
        last = obj.error.strip().splitlines()[-1:] or [""]
        return last[0][:120]

    def has_replay_permission(self, request) -> bool:
        """Replaying changes a dead letter (and its delivery): the model's change
        permission, although the rows themselves are read-only in the admin."""
        opts = self.opts
        codename = get_permission_codename("change", opts)
        return request.user.has_perm(f"{opts.app_label}.{codename}")

    @admin.action(description="Replay the selected dead letters", permissions=["replay"])
    def replay(self, request, queryset):
        count = replay_dead_letters(ids=list(queryset.values_list("id", flat=True)))
        self.message_user(request, f"{count} dead letter(s) sent again.", messages.SUCCESS)
