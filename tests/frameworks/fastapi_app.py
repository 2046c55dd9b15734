"""The FastAPI integration example of docs/FRAMEWORKS.md (tested by test_fastapi.py).

One module holds the Stalwart app and the web app, as small services do; bigger ones
put the tasks in their own module and import them in the routes.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

from stalwart import RetryPolicy, Stalwart

tasks = Stalwart("signup")  # STALWART_* settings from the environment


@tasks.task(
    bind=True,
    idempotency_key="welcome:{user_id}",
    retry=RetryPolicy(max_retries=3, backoff=2.0, retry_on=(ConnectionError,)),
)
def send_welcome(self: Any, user_id: int, email: str) -> str:
    # ... call the mail provider here ...
    return f"welcome sent to {email} by {self.request.id}"


api = FastAPI()


class Signup(BaseModel):
    user_id: int
    email: str


@api.post("/signup", status_code=202)
def signup(body: Signup) -> dict[str, str]:
    """Accept now, send later: a sync route (FastAPI runs it in a thread pool), so the
    blocking ``.delay`` never stalls the event loop."""
    result = send_welcome.delay(body.user_id, body.email)
    return {"task_id": result.id}


@api.get("/tasks/{task_id}")
def task_state(task_id: str) -> dict[str, Any]:
    result = tasks.AsyncResult(task_id)
    if result.state == "PENDING":
        raise HTTPException(404, f"task {task_id} is unknown or not started yet")
    return {"state": result.state, "result": result.result if result.successful() else None}
