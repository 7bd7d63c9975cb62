"""Admin for the event machinery: outbox, inbox and dead letters (with replay).

The kernel's tables exist in every context's database. In split mode each
changelist has a "database" filter listing every database with its row count
(so rows in any database are one click away, and a backlog shows in the
sidebar); ``?db=<alias>`` picks the database listed, the default one when
absent. A row's page finds the row in whichever database holds it (primary
keys are UUIDs).

``/admin/operator-signals/`` (staff only, linked from the admin index) shows
the signals of ``contexts.kernel.operations`` for every database.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.core.exceptions import ValidationError
from django.db import Error as DatabaseError
from django.template.response import TemplateResponse
from django.urls import reverse

from contexts.kernel.delivery import replay_dead_letters
from contexts.kernel.models import DeadLetter, InboxMessage, OutboxMessage
from contexts.kernel.operations import operator_signals
from contexts.kernel.relay import database_contexts

DB_PARAM = "db"

# The index links the operator signals page (mounted by config/urls.py).
admin.site.index_template = "admin/kernel/index.html"


def _current_alias(request) -> str:
    alias = request.GET.get(DB_PARAM, "")
    return alias if alias in database_contexts() else "default"


class DatabaseFilter(admin.SimpleListFilter):
    """Pick the database whose rows are listed (shown only in split mode)."""

    title = "database"
    parameter_name = DB_PARAM

    def lookups(self, request, model_admin):
        manager = model_admin.model._default_manager
        choices = []
        for alias in database_contexts():
            try:
                label = f"{alias} ({manager.using(alias).count()})"
            except DatabaseError:
                label = f"{alias} (unavailable)"
            choices.append((alias, label))
        return choices

    def has_output(self) -> bool:
        return len(self.lookup_choices) > 1

    def value(self):
        return super().value() or "default"

    def choices(self, changelist):
        # No "All": the rows of two databases cannot be listed as one queryset; each
        # database is one choice, with its row count, and the default one is preselected.
        current = self.value()
        for alias, label in self.lookup_choices:
            yield {
                "selected": alias == current,
                "query_string": changelist.get_query_string({self.parameter_name: alias}, ["p"]),
                "display": label,
            }

    def queryset(self, request, queryset):
        return queryset  # the ModelAdmin's get_queryset already chose the database


class EventTableAdmin(admin.ModelAdmin):
    """Read-only, database-aware admin for a kernel table."""

    def get_queryset(self, request):
        return super().get_queryset(request).using(_current_alias(request))

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
        "handler",
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
        # ``queryset`` is the selection, or with "select all" every row the
        # changelist's filters and search match (in the database listed).
        count = replay_dead_letters(
            ids=list(queryset.values_list("id", flat=True)), databases=[_current_alias(request)]
        )
        self.message_user(request, f"{count} dead letter(s) sent again.", messages.SUCCESS)


_CHANGELISTS = {
    "outbox": "admin:kernel_outboxmessage_changelist",
    "inbox": "admin:kernel_inboxmessage_changelist",
    "dead_letters": "admin:kernel_deadletter_changelist",
}


def operator_signals_view(request):
    """The staff-only page of operator signals (``admin.site.admin_view`` checks staff)."""
    signals = operator_signals()
    rows = [
        {
            "signals": db,
            "links": {
                key: f"{reverse(name)}?{DB_PARAM}={db.alias}" for key, name in _CHANGELISTS.items()
            },
        }
        for db in signals.databases
    ]
    context = {
        **admin.site.each_context(request),
        "title": "Operator signals",
        "signals": signals,
        "rows": rows,
        "saga_link": reverse("admin:orders_sagastate_changelist") + "?status__exact=NEEDS_ATTENTION"
        if "sagas_needing_attention" in signals.contexts
        else "",
    }
    return TemplateResponse(request, "admin/kernel/operator_signals.html", context)
