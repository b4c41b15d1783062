"""Hot swap: replace a running process in place, on the same listening sockets.

``turnout run`` is a small supervisor that owns the listening sockets and hands
them to the app with the systemd socket-activation protocol (``LISTEN_FDS``,
``LISTEN_PID``, ``LISTEN_FDNAMES``) or a ``{fd}`` placeholder. A reload starts
the new process on the same sockets, waits until *it* (not its predecessor)
passes its health checks, tells the old one to drain and stop, and reaps it. The
sockets never close, so no connection is ever refused; connections the old
process did not accept stay in the shared queue for the new one.

- ``sockets``: creating, passing and inheriting listening sockets;
- ``probe``: health checks through the shared socket that know which process
  answered (``/proc/net/tcp`` + ``/proc/<pid>/fd``);
- ``servers``: what each known server (gunicorn, uvicorn, hypercorn, ...) needs;
- ``supervisor``: the ``turnout run`` process and its control socket.
"""
