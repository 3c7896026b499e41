"""The use cases: what the bot does, written once, called by every edge.

The CLI, the dashboard, the chat adapters and the scheduled jobs translate their input, call one
function here, and render what it returns; none of them talks to the outbox, the registry or the
models on its own. `runtime` is the one object every edge is handed; `posts` makes, regenerates
and reviews campaign posts; `training` asks for, takes and finishes trainings; `schedule` reads
what runs next; `children` runs the training and collection child processes.
"""
