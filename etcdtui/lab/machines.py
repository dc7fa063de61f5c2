"""Machine-level faults for the lab: a control-plane machine dies, a fresh one is provisioned, quorum is lost.

`destroy-node NODE`: the machine is gone. Its etcd stops for good (the member stays in etcd's member list,
unreachable, as when a real VM dies), its ssh server stops answering, its Node goes NotReady.
`provision-node NODE`: a new, empty machine at the same address (what `terraform apply` gives after the old
instance was deleted): no etcd data, a NEW host key, which is put into the lab's known_hosts the way an
operator runs `ssh-keygen -R` + `ssh-keyscan >> known_hosts`, and (KubeOne flavour) into kubeone.yaml/tf.json
like a fresh `terraform output -json > tf.json`; a kubeadm lab has neither file. `--keep-known-hosts` leaves the old key there, so clients that verify
host keys must refuse the machine. `lose-quorum`: the majority of members is destroyed at once (etcd stopped
for good, data lost); their machines still answer ssh, so a restore from a snapshot can re-join them.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

import asyncssh
from aiohttp import web

from etcdtui.lab.ring_member import RingError, UnknownNode
from etcdtui.lab.sshd import NodeShell, SshEndpoint, _KeyOnlyServer, _listen, write_known_hosts, write_private

if TYPE_CHECKING:
    from etcdtui.lab.daemon import Lab
    from etcdtui.lab.sshd import NodeAccess

log = logging.getLogger(__name__)


class MachineError(Exception):
    """One line for the user."""


def _acceptor_index(access: NodeAccess, ep: SshEndpoint) -> int | None:
    for i, server in enumerate(access._servers):
        with contextlib.suppress(OSError, IndexError, AttributeError):
            if tuple(server.sockets[0].getsockname()[:2]) == (ep.host, ep.port):
                return i
    return None


async def _close_ssh(access: NodeAccess, ep: SshEndpoint) -> None:
    """Stop the node's ssh server and drop the sessions it has: connecting then gets `connection refused`."""
    index = _acceptor_index(access, ep)
    if index is not None:
        server = access._servers.pop(index)
        server.close()
        with contextlib.suppress(Exception):
            await server.wait_closed()
    for conn in list(access._connections):
        with contextlib.suppress(Exception):
            if tuple(conn.get_extra_info("sockname")[:2]) == (ep.host, ep.port):
                conn.close()
                access._connections.discard(conn)


class Machines:
    """The lab's control-plane machines, on the daemon's event loop."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.destroyed: set[str] = set()

    @property
    def _access(self) -> NodeAccess:
        if self.lab.ssh is None:
            raise MachineError("the lab has no ssh node access")
        access: NodeAccess = self.lab.ssh
        return access

    def _ring(self) -> Any:
        if self.lab.ring is None:
            raise MachineError("the lab's ring is not running")
        # A node re-joined since (kubeone apply, a recovery) runs etcd again: it is no longer destroyed.
        self.destroyed = {n for n in self.destroyed if not self.lab.ring.member(n).running}
        return self.lab.ring

    async def destroy(self, node: str, *, lose_data: bool = False) -> str:
        ring = self._ring()
        ring.validate_node(node)
        if node in self.destroyed:
            raise MachineError(f"{node} is already destroyed")
        await ring.stop_for_good(node, lose_data=lose_data)
        await _close_ssh(self._access, self._access.nodes[node])
        self.destroyed.add(node)
        log.warning("destroyed machine %s (etcd stopped for good, ssh gone, Node NotReady)", node)
        return f"{node} destroyed: etcd stopped for good, ssh unreachable, Node NotReady"

    async def provision(self, node: str, *, update_known_hosts: bool = True) -> str:
        ring = self._ring()
        ring.validate_node(node)
        access = self._access
        old = access.nodes[node]
        if node not in self.destroyed:
            raise MachineError(f"{node} is still running: destroy it first (`etcdtui lab destroy-node {node}`)")
        ring.fresh_machine(node)
        key = asyncssh.generate_private_key("ssh-ed25519", comment=f"host_{node}_ed25519")
        key_path = self.lab.layout.ssh_dir / f"host_{node}_ed25519"
        write_private(key_path, key.export_private_key("openssh"))
        write_private(key_path.with_name(key_path.name + ".pub"), key.export_public_key("openssh"), 0o644)
        shell = NodeShell(ring, node, user=access.user)
        client_key = asyncssh.read_private_key(str(access.client_key_path))
        acceptor, _ = await _listen(
            lambda: _KeyOnlyServer(access.user, client_key, access._connections), old.host, old.port, key, shell
        )
        access._servers.insert(0, acceptor)
        new = SshEndpoint(node, old.host, old.port, key)
        self.destroyed.discard(node)
        fingerprint = key.get_fingerprint()
        if not update_known_hosts:
            access.nodes[node] = new
            return (f"{node} provisioned at {old.host}:{old.port} with a new host key {fingerprint}; "
                    "known_hosts still holds the OLD key")
        access.nodes[node] = new
        write_known_hosts(self.lab.layout.known_hosts, access)
        if self.lab.args.flavour == "kubeadm":  # a plain kubeadm cluster has no kubeone.yaml or tf.json
            return (f"{node} provisioned at {old.host}:{old.port}: empty machine, new host key {fingerprint} "
                    "(known_hosts updated)")
        from etcdtui.lab.kubeone import write_kubeone_files  # noqa: PLC0415 - as the daemon imports it

        write_kubeone_files(ring, self.lab.layout, access)
        return (f"{node} provisioned at {old.host}:{old.port}: empty machine, new host key {fingerprint} "
                "(known_hosts, kubeone.yaml and tf.json updated)")

    async def lose_quorum(self) -> str:
        ring = self._ring()
        alive = [n for n in ring.nodes if ring.member(n).running]
        majority = len(ring.nodes) // 2 + 1
        if len(alive) < majority:
            raise MachineError("quorum is already lost")
        victims = alive[-majority:]  # the first node survives, like KubeOne's leader instance
        for node in victims:
            await ring.stop_for_good(node, lose_data=True)
        self.destroyed.update(victims)  # ssh stays up: the machines answer, their etcd is gone
        log.warning("quorum lost: etcd destroyed on %s", ", ".join(victims))
        return (f"quorum lost: etcd destroyed (stopped for good, data gone) on {', '.join(victims)}; "
                f"{len(ring.nodes) - len(victims)} of {len(ring.nodes)} members left")


# == control API routes ===================================================================================
MACHINES_KEY: web.AppKey[Machines] = web.AppKey("machines", Machines)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json() if request.can_read_body else {}
    except ValueError:
        data = None
    return data if isinstance(data, dict) else {"_bad": True}


async def _run(request: web.Request, action: str) -> web.Response:
    machines = request.app[MACHINES_KEY]
    body = await _body(request)
    if body.get("_bad"):
        return _error(400, "body must be a JSON object")
    node = body.get("node")
    if action != "lose-quorum" and (not isinstance(node, str) or not node):
        return _error(400, "missing 'node'")
    try:
        if action == "destroy":
            message = await machines.destroy(str(node))
        elif action == "provision":
            message = await machines.provision(str(node), update_known_hosts=not body.get("keep_known_hosts"))
        else:
            message = await machines.lose_quorum()
    except UnknownNode as exc:
        return _error(404, str(exc))
    except (MachineError, RingError, OSError) as exc:
        return _error(409, str(exc))
    machines.lab.write_state()
    return web.json_response({"ok": True, "message": message})


async def destroy_node(request: web.Request) -> web.Response:
    return await _run(request, "destroy")


async def provision_node(request: web.Request) -> web.Response:
    return await _run(request, "provision")


async def lose_quorum(request: web.Request) -> web.Response:
    return await _run(request, "lose-quorum")


def add_machine_routes(app: web.Application, lab: Lab) -> None:
    app[MACHINES_KEY] = Machines(lab)
    app.router.add_post("/destroy-node", destroy_node)
    app.router.add_post("/provision-node", provision_node)
    app.router.add_post("/lose-quorum", lose_quorum)
