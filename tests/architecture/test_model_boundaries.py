"""No relation crosses a context (rule 2 of docs/architecture.md): the ``boundaries``
system check reports any, and the real models have none."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core import checks
from django.core.management import call_command
from django.db import models
from django.test.utils import isolate_apps

from contexts.kernel import checks as boundary_checks
from contexts.kernel.databases import CONTEXTS
from contexts.kernel.models import OutboxMessage


def boundary_errors(app_configs) -> dict[str, list[str]]:
    """The ``boundaries`` findings for ``app_configs``, as {check id: [messages]}."""
    found: dict[str, list[str]] = {}
    for message in checks.run_checks(app_configs=app_configs, tags=[boundary_checks.TAG]):
        found.setdefault(message.id, []).append(message.msg)
    return found


def test_the_checks_are_registered_under_the_boundaries_tag():
    registered = set(checks.registry.registry.get_checks())

    assert {
        boundary_checks.check_no_cross_context_relations,
        boundary_checks.check_no_cross_context_proxies,
        boundary_checks.check_every_model_has_an_owner,
    } <= registered
    assert boundary_checks.TAG in checks.registry.registry.tags_available()


def test_the_real_models_cross_no_boundary():
    assert checks.run_checks(tags=[boundary_checks.TAG]) == []


def test_manage_py_check_passes_on_the_real_code():
    # Raises SystemCheckError on any error (and, like `make lint`, on warnings).
    call_command("check", fail_level="WARNING")


def test_every_context_owns_its_app_and_every_model_has_an_owner():
    for context in CONTEXTS:
        assert boundary_checks.owner_of(context) == context
    for model in apps.get_models():
        assert boundary_checks.owner_of(model._meta.app_label) is not None, model


@pytest.mark.parametrize(
    "relation",
    [
        lambda to: models.ForeignKey(to, on_delete=models.CASCADE),
        lambda to: models.OneToOneField(to, on_delete=models.CASCADE),
        lambda to: models.ManyToManyField(to),
    ],
    ids=["ForeignKey", "OneToOneField", "ManyToManyField"],
)
def test_a_relation_from_catalog_to_the_user_model_is_an_error(relation):
    user_model = get_user_model()
    with isolate_apps("contexts.catalog") as isolated:

        class Product(models.Model):  # noqa: DJ008 - a throwaway model
            owner = relation(user_model)

            class Meta:
                app_label = "catalog"

        found = boundary_errors(isolated.get_app_configs())

    assert found["boundaries.E001"] == [
        f"catalog.Product.owner ({type(Product._meta.get_field('owner')).__name__}) crosses "
        "from context catalog to users.User (context users)."
    ]


def test_a_relation_to_djangos_auth_models_crosses_into_users():
    from django.contrib.auth.models import Group

    with isolate_apps("contexts.orders") as isolated:

        class Order(models.Model):  # noqa: DJ008 - a throwaway model
            group = models.ForeignKey(Group, on_delete=models.PROTECT)

            class Meta:
                app_label = "orders"

        found = boundary_errors(isolated.get_app_configs())

    assert len(found["boundaries.E001"]) == 1
    assert "auth.Group (context users)" in found["boundaries.E001"][0]


def test_multi_table_inheritance_from_another_context_is_an_error():
    with isolate_apps("contexts.payments") as isolated:

        class Payer(get_user_model()):
            class Meta:
                app_label = "payments"

        found = boundary_errors(isolated.get_app_configs())

    assert any("payments.Payer.user_ptr" in message for message in found["boundaries.E001"])


def test_a_proxy_of_another_contexts_model_is_an_error():
    with isolate_apps("contexts.notifications") as isolated:

        class Recipient(get_user_model()):
            class Meta:
                app_label = "notifications"
                proxy = True

        found = boundary_errors(isolated.get_app_configs())

    assert found["boundaries.E003"] == [
        "Proxy model notifications.Recipient of notifications reads users.User's table, "
        "owned by users."
    ]


def test_kernel_and_contexts_relate_by_id_only():
    with isolate_apps("contexts.kernel", "contexts.inventory") as isolated:

        class Delivery(models.Model):  # noqa: DJ008 - a throwaway model
            user = models.ForeignKey(get_user_model(), on_delete=models.CASCADE)

            class Meta:
                app_label = "kernel"

        class Reservation(models.Model):  # noqa: DJ008 - a throwaway model
            outbox = models.ForeignKey(OutboxMessage, on_delete=models.CASCADE)

            class Meta:
                app_label = "inventory"

        found = boundary_errors(isolated.get_app_configs())

    assert sorted(found["boundaries.E002"]) == [
        "inventory.Reservation.outbox relates inventory to kernel.OutboxMessage (the kernel).",
        "kernel.Delivery.user relates the kernel to users.User (users).",
    ]


def test_relations_inside_one_context_and_ids_across_are_fine():
    with isolate_apps("contexts.orders") as isolated:

        class Order(models.Model):  # noqa: DJ008 - a throwaway model
            customer_id = models.UUIDField()  # a user, by id

            class Meta:
                app_label = "orders"

        class OrderLine(models.Model):  # noqa: DJ008 - a throwaway model
            order = models.ForeignKey(Order, on_delete=models.CASCADE)
            product_id = models.UUIDField()  # a catalog product, by id

            class Meta:
                app_label = "orders"

        class OrderTag(models.Model):  # noqa: DJ008 - a throwaway model
            orders = models.ManyToManyField(Order)

            class Meta:
                app_label = "orders"

        found = boundary_errors(isolated.get_app_configs())

    assert "boundaries.E001" not in found
    assert "boundaries.E002" not in found
    # These test models live in a test module, which the sanity check notices.
    assert len(found["boundaries.E005"]) == 3


def test_a_model_of_no_context_is_an_error():
    with isolate_apps("django.contrib.staticfiles") as isolated:

        class Orphan(models.Model):  # noqa: DJ008 - a throwaway model
            class Meta:
                app_label = "staticfiles"

        found = boundary_errors(isolated.get_app_configs())

    assert found["boundaries.E004"] == ["Model staticfiles.Orphan belongs to no context."]
