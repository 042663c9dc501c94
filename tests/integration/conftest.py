"""Fixtures shared by several integration modules, defined once here.

A session-scoped fixture imported into two test modules would be two fixtures, each started
once per session: two Alipay gateways, and two kuaidan servers whose workers poll the same
PostgreSQL database (one of them calling the other gateway). Registering them here keeps one.
"""

from tests.integration.payments_support import alipay_gateway as alipay_gateway
from tests.integration.payments_support import alipay_server as alipay_server
from tests.integration.payments_support import provider as provider
