"""The Slack adapter: the only package that imports slack_bolt and slack_sdk.

It verifies and acknowledges Slack's requests, hands the work to the core (`bot.service.analyse`)
on a worker pool, and posts what `bot.render.blocks` renders. It holds no triage logic of its own.

- `app`: builds the Bolt app (Web API client with retries, listeners) and runs it (Socket Mode
  or HTTP);
- `http`: the threaded HTTP server for `/slack/events`;
- `listeners/`: one module per kind of request, each with `register(app, ctx)`;
- `replies`: the work done after the ack; `post`: every Web API write; `files`: downloads;
- `context`: what the listeners share; `memory`: the in-process expiring maps.
"""
