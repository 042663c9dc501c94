"""Fixtures shared by several integration modules, defined once here.

A fixture imported into two test modules would be two fixtures; registering it here keeps one.
"""

from tests.integration.payments_support import provider as provider
