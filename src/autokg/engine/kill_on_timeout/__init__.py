"""A workaround for pyoxigraph's lack of cancellation: queries run in child processes that are killed on timeout.

Oxigraph evaluates a query inside Rust and has no timeout or cancellation of its own (its server's `--timeout-s` is
cooperative, and pyoxigraph has none); neither a thread nor a signal can interrupt that work. So queries run in
children forked from the process that loaded the store, which share its memory (copy-on-write): one per query
slot, kept by a thread of the serving master (the keeper) and shared by its workers. A query that overruns its
time is ended by killing its child, and the keeper forks a fresh one.

Everything that exists only for that lives here: the keeper and its slot children, their deaths and the shared
records of them (`keeper`), what runs inside a child (`child`), and the socket protocol between a worker and a
child (`wire`). Should pyoxigraph learn to cancel a query, this package goes, and the executor runs jobs itself.
"""
