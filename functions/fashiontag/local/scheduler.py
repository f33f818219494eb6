"""Cloud Scheduler's part on the local stack: call the reconcile function every few seconds.

    python -m fashiontag.local.scheduler URL SECONDS

A failed call is logged and the next one comes at its time, as with a scheduler job. With
SECONDS 0 it calls nothing and only waits (a stack whose tests call the reconciler themselves).
"""

from __future__ import annotations

import logging
import sys
import threading
import time

import requests

log = logging.getLogger("fashiontag.scheduler")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    url, every = (argv if argv is not None else sys.argv[1:])[:2]
    interval = float(every)
    if interval <= 0:
        log.info("reconcile: not scheduled")
        threading.Event().wait()
    while True:
        started = time.monotonic()
        try:
            response = requests.post(url, timeout=540)
            log.info("reconcile: HTTP %d %s", response.status_code, response.text.strip()[:300])
        except requests.RequestException as error:
            log.warning("reconcile: call failed (%s)", error)
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


if __name__ == "__main__":
    sys.exit(main())
