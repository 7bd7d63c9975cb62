"""Fixtures of the cross-context reliability tests: the kernel's probe handlers and workers."""

from contexts.kernel.tests.conftest import probe_effects, start_probe_worker

__all__ = ["probe_effects", "start_probe_worker"]
