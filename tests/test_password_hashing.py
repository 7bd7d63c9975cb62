"""The suite hashes passwords fast; the deployment keeps Django's slow, strong hashers."""

from __future__ import annotations

import importlib

from django.conf import global_settings
from django.contrib.auth.hashers import get_hasher, make_password


def test_tests_hash_passwords_with_the_fast_hasher():
    assert get_hasher().algorithm == "md5"
    assert make_password("correct-horse-battery").startswith("md5$")


def test_the_settings_keep_djangos_default_hashers():
    settings_module = importlib.import_module("config.settings")

    assert not hasattr(settings_module, "PASSWORD_HASHERS")
    assert global_settings.PASSWORD_HASHERS[0].endswith("PBKDF2PasswordHasher")
