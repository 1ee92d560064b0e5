"""The async operations of instances sharing one database (:mod:`monitor.store.cluster`),
each one transaction on the store's database thread, reached as ``Store.leases``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import TypeVar

from sqlalchemy import Connection

from monitor.store import cluster, reloads, repo

T = TypeVar("T")

#: runs a function in a read or a write transaction on the database thread
Run = Callable[[Callable[[Connection], T]], Awaitable[T]]


class Leases:
    """Source and destination leases and membership; ``owner`` is the calling instance's id."""

    def __init__(self, read: Run[object], write: Run[object], owner: str) -> None:
        self._read = read
        self._write = write
        self.owner = owner

    async def _w(self, fn: Callable[[Connection], T]) -> T:
        return await self._write(fn)  # type: ignore[return-value]

    async def _r(self, fn: Callable[[Connection], T]) -> T:
        return await self._read(fn)  # type: ignore[return-value]

    async def claim_source(
        self, name: str, *, kind: str, url_hash: str, now: float, until: float, force: bool = False
    ) -> cluster.SourceClaim:
        """Lease source ``name`` for one poll (see :func:`cluster.claim_source`)."""
        return await self._w(
            partial(
                cluster.claim_source, name=name, kind=kind, url_hash=url_hash, owner=self.owner,
                now=now, until=until, force=force,
            )
        )

    async def release_source(self, name: str) -> None:
        """Free this instance's lease on ``name`` without recording a poll."""
        await self._w(partial(cluster.release_source, name=name, owner=self.owner))

    async def claim_destination(
        self, dest: str, target: str, *, now: float, until: float, error: str
    ) -> list[repo.OutboxEntry] | None:
        """Lease ``dest`` for one delivery round; None when another instance holds it. Taken,
        the rows a dead owner left ``sending`` (their lease ended) are made due again in the
        same transaction, and returned as they were found."""

        def write(conn: Connection) -> list[repo.OutboxEntry] | None:
            if not cluster.claim_destination(conn, dest, target, owner=self.owner, now=now, until=until):
                return None
            return repo.recover_interrupted(conn, now, error, dest=dest)

        return await self._w(write)

    async def claim_rows(self, dest: str, ids: Sequence[int], lease_until: float) -> list[int]:
        """Claim rows ``ids`` for one send, as ``Store.claim`` does, while this instance still holds
        ``dest`` (whose lease then lasts at least as long); nothing is claimed when it does not."""

        def write(conn: Connection) -> list[int]:
            if not cluster.extend_destination(conn, dest, owner=self.owner, until=lease_until):
                return []
            return repo.claim(conn, ids, lease_until)

        return await self._w(write)

    async def release_destination(self, dest: str) -> None:
        """Free this instance's lease on ``dest`` (its round's outcomes are written)."""
        await self._w(partial(cluster.release_destination, dest=dest, owner=self.owner))

    async def heartbeat(self, member: cluster.Member, *, forget_before: float) -> None:
        """Write this instance's membership row; rows silent since before ``forget_before`` go."""

        def write(conn: Connection) -> None:
            cluster.forget_silent(conn, forget_before)
            cluster.heartbeat(conn, member)

        await self._w(write)

    async def release_all(self) -> tuple[int, int]:
        """Free every lease this instance holds (it stops); (sources, destinations) freed."""
        return await self._w(partial(cluster.release_all, owner=self.owner))

    async def leave(self) -> None:
        """Remove this instance's membership row (a clean stop)."""
        await self._w(partial(cluster.leave, member_id=self.owner))

    async def members(self, since: float | None = None) -> list[cluster.Member]:
        """The instances that beat at or after ``since`` (None: every row)."""
        return await self._r(partial(cluster.members, since=since))

    async def held(self, now: float) -> int:
        """Source leases this instance holds at ``now``."""
        return await self._r(partial(cluster.leases_held, owner=self.owner, now=now))

    async def request_reload(self, config_hash: str | None) -> reloads.ReloadRequest:
        """Ask every instance to re-read its configuration (see :mod:`monitor.store.reloads`);
        ``config_hash``: the configuration asked for (instances running it skip the request)."""
        return await self._w(partial(reloads.request_reload, config_hash=config_hash, by=self.owner))

    async def reload_request(self) -> reloads.ReloadRequest:
        """The latest request to re-read the configuration."""
        return await self._r(reloads.latest_request)
