from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from contexts.users.tasks import flush_expired_tokens


@pytest.mark.django_db
def test_flush_expired_tokens_deletes_only_expired_ones(user):
    live = RefreshToken.for_user(user)
    expired = RefreshToken.for_user(user)
    OutstandingToken.objects.filter(jti=expired["jti"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    flush_expired_tokens()

    assert list(OutstandingToken.objects.values_list("jti", flat=True)) == [live["jti"]]
