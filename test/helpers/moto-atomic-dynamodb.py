"""moto_server whose DynamoDB requests take effect one at a time, as DynamoDB's do.

DynamoDB evaluates a conditional write (a put, an update, a delete, a whole transaction)
atomically: no other request sees or changes the item between the condition and the write.
moto 5.2.1's server is threaded and holds no lock there, so two simultaneous conditional
puts on one key can both succeed. Tests in one process serialise their own DynamoDB
requests (test/helpers/table.ts, atomicDynamoDB); tests that run several `phoenix`
processes against one table cannot, so this launcher puts the lock in the server: every
DynamoDB request runs under one lock. Every other service runs as moto runs it.

Usage: python3 test/helpers/moto-atomic-dynamodb.py -H 127.0.0.1 -p PORT
"""

import sys
import threading

from moto.dynamodb.responses import DynamoHandler
from moto.server import main

_lock = threading.Lock()
_call_action = DynamoHandler.call_action


def _call_action_atomically(self):  # type: ignore[no-untyped-def]
    with _lock:
        return _call_action(self)


DynamoHandler.call_action = _call_action_atomically

if __name__ == "__main__":
    main(sys.argv[1:])
