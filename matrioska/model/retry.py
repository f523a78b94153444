"""Which model failures are worth retrying, and the retry policy the graph's nodes use.

LangGraph's default `retry_on` retries neither RuntimeError nor OSError, which is where model
backends put their transient failures: CUDA out-of-memory is a RuntimeError, a refused
connection or a timeout an OSError. Matrioska retries exactly the transient kinds (timeouts,
connection failures, out-of-memory, HTTP 429/5xx, the OpenAI client's connection/timeout/rate
errors) and never its own typed errors or parse failures, which would fail again the same way.
After the last attempt the exception stops the run; every finished module is already in the
checkpoint, so a resume with the same thread id continues from there.
"""

from __future__ import annotations

from langgraph.types import RetryPolicy

from ..errors import MatrioskaError

__all__ = ["is_transient_backend_error", "default_retry_policy"]

_TRANSIENT_NAMES = {
    "OutOfMemoryError",  # torch.cuda.OutOfMemoryError / torch.OutOfMemoryError
    "APIConnectionError",
    "APITimeoutError",
    "RateLimitError",
    "InternalServerError",
    "ServiceUnavailableError",
    "TransportError",
    "TimeoutException",
    "ConnectTimeout",
    "ReadTimeout",
    "ConnectError",
    "RemoteProtocolError",
}


def is_transient_backend_error(exc: BaseException) -> bool:
    """True for failures a later attempt can fix: timeouts, lost connections, OOM, 429/5xx."""
    if isinstance(exc, MatrioskaError):
        return False
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return True
    if any(cls.__name__ in _TRANSIENT_NAMES for cls in type(exc).__mro__):
        return True
    if isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower():
        return True
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None) or getattr(exc, "status_code", None)
    if isinstance(status, int) and (status == 429 or 500 <= status < 600):
        return True
    return False


def default_retry_policy(
    max_attempts: int = 4, initial_interval: float = 1.0, max_interval: float = 30.0
) -> RetryPolicy:
    """Exponential backoff with jitter (1 s, 2 s, 4 s ... capped) on transient backend errors."""
    return RetryPolicy(
        initial_interval=initial_interval,
        backoff_factor=2.0,
        max_interval=max_interval,
        max_attempts=max_attempts,
        jitter=True,
        retry_on=is_transient_backend_error,
    )
