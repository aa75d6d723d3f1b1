"""The gateway: adapters for one SMS provider each, and the one async sender they share.

A wall: nothing here imports campaigns, segments or the warehouse. The ledger
hands over ``OutboundMessage`` batches and stores the ``SendResult`` it gets
back, one final state per message (see ``sender`` for what each state means
and ``GatewayAdapter.honours_idempotency_key`` for when an unknown may be resent).
"""

from .kannel import KannelAdapter, needs_ucs2, unquote_dlr_key
from .resource import GatewayResource, gateway_from_env, run_async
from .retry import backoff_delay, parse_retry_after
from .sandbox import SandboxAdapter, SandboxTransport, simulated_outcome
from .sender import (
    LONG_CODE_RATE,
    SHORT_CODE_RATE,
    TOLL_FREE_RATE,
    TokenBucket,
    send_all,
)
from .transport import AiohttpTransport, GatewayClient, ShardedTransport, httpx_error
from .twilio import TwilioAdapter
from .types import (
    ACCEPTED,
    FAILED,
    FINAL_STATES,
    OUTCOME_INVALID_NUMBER,
    OUTCOME_UNSUBSCRIBED,
    UNKNOWN,
    GatewayAdapter,
    OutboundMessage,
    RetryLater,
    SendResult,
)

__all__ = [
    "ACCEPTED",
    "AiohttpTransport",
    "FAILED",
    "FINAL_STATES",
    "LONG_CODE_RATE",
    "OUTCOME_INVALID_NUMBER",
    "OUTCOME_UNSUBSCRIBED",
    "SHORT_CODE_RATE",
    "TOLL_FREE_RATE",
    "UNKNOWN",
    "GatewayAdapter",
    "GatewayClient",
    "GatewayResource",
    "KannelAdapter",
    "OutboundMessage",
    "RetryLater",
    "SandboxAdapter",
    "SandboxTransport",
    "SendResult",
    "ShardedTransport",
    "TokenBucket",
    "TwilioAdapter",
    "backoff_delay",
    "gateway_from_env",
    "httpx_error",
    "needs_ucs2",
    "parse_retry_after",
    "run_async",
    "send_all",
    "simulated_outcome",
    "unquote_dlr_key",
]
