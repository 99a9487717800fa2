"""Shared by every widget test."""

from __future__ import annotations

import logging

import pytest


@pytest.fixture(autouse=True)
def no_swallowed_callback_errors(caplog):
    """ipywidgets logs (instead of raising) exceptions escaping a callback: the widgets must
    catch every error themselves."""
    caplog.set_level(logging.WARNING)
    yield
    swallowed = [r for r in caplog.records if "Exception in callback" in r.getMessage()]
    assert not swallowed, swallowed[0].getMessage()
