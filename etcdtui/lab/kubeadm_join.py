"""kubeadm's re-join commands on a lab node: `init phase upload-certs --upload-certs`, `token create/delete/list`
and `join --control-plane`, with kubeadm's output lines and exit codes; the join really adds the etcd member
and starts it with real etcd (`Ring.join`).

Bootstrap tokens (`[a-z0-9]{6}.[a-z0-9]{16}`, TTL 24 h unless `--ttl`) and the certificate key (64 hex, valid
2 h like the `kubeadm-certs` Secret) live in the daemon's memory. A join with a token that does not exist or
has expired fails in discovery like kubeadm (exit 1); a wrong certificate key fails in `download-certs`.

Faults for tests, one-shot files under `DIR/kubeadm/faults/` (`etcdtui lab fault NAME`):
`token-expired` (every token counts as expired at the next join) and `join-halfway` (the next join announces
the member, then fails waiting for etcd: a half-joined node, which kubeadm wants reset before a new join).
Every issued secret is appended to `DIR/kubeadm/issued-secrets` (0600), so a test can grep that nothing else
(journals, logs, screens) ever shows them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import string
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from etcdtui.lab.api_endpoint import api_endpoint
from etcdtui.lab.kubeadm_output import Write, klog_warning
from etcdtui.lab.member_join import add_with_retries, join_with_retries

if TYPE_CHECKING:
    from etcdtui.lab.ring import Ring

log = logging.getLogger(__name__)

TOKEN_TTL = 24 * 3600.0
CERT_KEY_TTL = 2 * 3600.0
VALUE_FLAGS = {"--token", "--discovery-token", "--discovery-token-ca-cert-hash", "--certificate-key", "--node-name",
               "--apiserver-advertise-address", "--apiserver-bind-port", "--config", "--v"}
FAULTS = ("token-expired", "join-halfway")
_ALPHABET = string.ascii_lowercase + string.digits
STACK_HINT = "To see the stack trace of this error execute with --v=5 or higher\n"
ADMIN_CONF_DENIED = "failed to load admin kubeconfig: open /etc/kubernetes/admin.conf: permission denied\n"


@dataclass
class KubeadmState:
    root: Path  # DIR/kubeadm
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)  # id -> (secret, expires)
    cert_key: tuple[str, float] | None = None  # (key, expires)
    half_joined: set[str] = field(default_factory=set)

    def fault(self, name: str) -> bool:
        """A one-shot fault: True once when its file exists (the file is consumed)."""
        path = self.root / "faults" / name
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        log.info("kubeadm fault %s triggered", name)
        return True

    def record_secret(self, kind: str, value: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.root / "issued-secrets", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a") as fh:
            fh.write(f"{kind} {value}\n")


_states: dict[Path, KubeadmState] = {}


def state_of(ring: Ring) -> KubeadmState:
    root = ring.layout.root / "kubeadm"
    return _states.setdefault(root, KubeadmState(root))


def write_fault(lab_root: Path, name: str) -> Path:
    """Arm a one-shot fault (used by `etcdtui lab fault`)."""
    if name not in FAULTS:
        raise ValueError(f"unknown fault {name!r} (known: {', '.join(FAULTS)})")
    faults = lab_root / "kubeadm" / "faults"
    faults.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = faults / name
    path.touch(mode=0o600)
    return path


def is_half_joined(ring: Ring, node: str) -> bool:
    return node in state_of(ring).half_joined


def forget_half_join(ring: Ring, node: str) -> None:
    state_of(ring).half_joined.discard(node)


def _ca_cert_hash(ring: Ring) -> str:
    """sha256 of the lab CA's certificate, in kubeadm's `sha256:<hex>` form (the lab has no separate k8s CA)."""
    ca = ring.layout.root / "pki" / "ca.crt"
    try:
        data = ca.read_bytes()
    except OSError:
        data = b""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _endpoint(ring: Ring) -> str:
    host, port = api_endpoint(ring.layout)
    return f"{host}:{port}"


def _parse_ttl(value: str) -> float | None:
    units = {"s": 1, "m": 60, "h": 3600}
    total, number = 0.0, ""
    for ch in value:
        if ch.isdigit() or ch == ".":
            number += ch
        elif ch in units and number:
            total += float(number) * units[ch]
            number = ""
        else:
            return None
    if number:
        return None
    return total


def _ttl_text(expires: float) -> str:
    left = max(0, int(expires - time.time()))
    return f"{left // 3600}h" if left >= 3600 else f"{left // 60}m" if left >= 60 else f"{left}s"


async def upload_certs(ring: Ring, args: list[str], *, root: bool, out: Write, err: Write) -> int:
    if "--upload-certs" not in args:
        await out("[upload-certs] Skipping phase. Please see --upload-certs\n")
        return 0
    if not root:
        await err(f"error execution phase upload-certs: {ADMIN_CONF_DENIED}{STACK_HINT}")
        return 1
    key = secrets.token_hex(32)
    state = state_of(ring)
    state.cert_key = (key, time.time() + CERT_KEY_TTL)
    state.record_secret("certificate-key", key)
    await out('[upload-certs] Storing the certificates in Secret "kubeadm-certs" in the "kube-system" Namespace\n')
    await out("[upload-certs] Using certificate key:\n")
    await out(key + "\n")
    return 0


async def token(ring: Ring, args: list[str], *, root: bool, out: Write, err: Write) -> int:
    sub, rest = (args[0], args[1:]) if args else ("", [])
    if sub not in {"create", "delete", "list"}:
        await err(f'unknown command "{sub}" for "kubeadm token"\n{STACK_HINT}')
        return 1
    if not root:
        await err(ADMIN_CONF_DENIED + STACK_HINT)
        return 1
    state = state_of(ring)
    now = time.time()
    for tid in [t for t, (_, exp) in state.tokens.items() if exp <= now]:
        del state.tokens[tid]  # the token cleaner removes expired bootstrap tokens
    if sub == "create":
        ttl = TOKEN_TTL
        print_join = "--print-join-command" in rest
        if "--ttl" in rest:
            i = rest.index("--ttl")
            parsed = _parse_ttl(rest[i + 1]) if i + 1 < len(rest) else None
            if parsed is None:
                await err(f'invalid argument "{rest[i + 1] if i + 1 < len(rest) else ""}" for "--ttl" flag\n')
                return 1
            ttl = parsed
        tid = "".join(secrets.choice(_ALPHABET) for _ in range(6))
        secret = "".join(secrets.choice(_ALPHABET) for _ in range(16))
        state.tokens[tid] = (secret, now + (ttl if ttl > 0 else 10 * 365 * 86400))
        state.record_secret("token", f"{tid}.{secret}")
        if print_join:
            await out(f"kubeadm join {_endpoint(ring)} --token {tid}.{secret} --discovery-token-ca-cert-hash "
                      f"{_ca_cert_hash(ring)} \n")
        else:
            await out(f"{tid}.{secret}\n")
        return 0
    if sub == "delete":
        if not rest:
            await err("missing subcommand; 'token delete' is missing token of form "
                      '"[a-z0-9]{6}" or "[a-z0-9]{6}.[a-z0-9]{16}"\n' + STACK_HINT)
            return 1
        for item in rest:
            tid = item.split(".", 1)[0]
            if state.tokens.pop(tid, None) is None:
                await err(f'failed to delete bootstrap token with name "bootstrap-token-{tid}": secrets '
                          f'"bootstrap-token-{tid}" not found\n{STACK_HINT}')
                return 1
            await out(f'bootstrap token "{tid}" deleted\n')
        return 0
    await out(f"{'TOKEN':<26}{'TTL':<12}{'EXPIRES':<23}{'USAGES':<25}{'DESCRIPTION':<59}EXTRA GROUPS\n")
    for tid, (secret, exp) in sorted(state.tokens.items()):
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(exp))
        await out(f"{tid + '.' + secret:<26}{_ttl_text(exp):<12}{expires:<23}{'authentication,signing':<25}"
                  f"{'<none>':<59}system:bootstrappers:kubeadm:default-node-token\n")
    return 0


def _flag(args: list[str], name: str) -> str | None:
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None


async def join(ring: Ring, node: str, args: list[str], *, root: bool, out: Write, err: Write) -> int:
    state = state_of(ring)
    positional = [a for i, a in enumerate(args) if not a.startswith("-") and (i == 0 or args[i - 1] not in VALUE_FLAGS)]
    token_value = _flag(args, "--token") or _flag(args, "--discovery-token")
    cert_key = _flag(args, "--certificate-key")
    if "--control-plane" not in args:
        await err("lab: only `kubeadm join --control-plane` is supported on lab nodes (they are control planes)\n")
        return 1
    if not positional or not token_value or not (_flag(args, "--discovery-token-ca-cert-hash")
                                                 or "--discovery-token-unsafe-skip-ca-verification" in args):
        await err("discovery: Invalid value: \"\": using token-based discovery without caCertHashes can be unsafe. "
                  "Set unsafeSkipCAVerification as true in your kubeadm config file or pass "
                  "--discovery-token-unsafe-skip-ca-verification flag to continue\n" + STACK_HINT)
        return 1
    await out("[preflight] Running pre-flight checks\n")
    if not root:
        await err("error execution phase preflight: [preflight] Some fatal errors occurred:\n"
                  "\t[ERROR IsPrivilegedUser]: user is not running as root\n"
                  "[preflight] If you know what you are doing, you can make a check non-fatal with "
                  "`--ignore-preflight-errors=...`\n" + STACK_HINT)
        return 1
    member = ring.member(node)
    if not member.reset or node in state.half_joined:
        await err("error execution phase preflight: [preflight] Some fatal errors occurred:\n"
                  "\t[ERROR FileAvailable--etc-kubernetes-kubelet.conf]: /etc/kubernetes/kubelet.conf already exists\n"
                  "\t[ERROR Port-10250]: Port 10250 is in use\n"
                  + ("\t[ERROR DirAvailable--var-lib-etcd]: /var/lib/etcd is not empty\n" if member.running else "")
                  + "[preflight] If you know what you are doing, you can make a check non-fatal with "
                  "`--ignore-preflight-errors=...`\n" + STACK_HINT)
        return 1
    tid, _, secret = token_value.partition(".")
    known = state.tokens.get(tid)
    if state.fault("token-expired") and known is not None:
        state.tokens[tid] = (known[0], time.time() - 1)
        known = state.tokens[tid]
    if known is None or known[1] <= time.time() or known[0] != secret:
        await err(f'error execution phase preflight: couldn\'t validate the identity of the API Server: token id '
                  f'"{tid}" is invalid for this cluster or it has expired. Use "kubeadm token create" on the '
                  f'control-plane node to create a new valid token\n{STACK_HINT}')
        return 1
    await out("[preflight] Reading configuration from the cluster...\n")
    await out("[preflight] FYI: You can look at this config file with 'kubectl -n kube-system get cm kubeadm-config "
              "-o yaml'\n")
    await out("[preflight] Running pre-flight checks before initializing the new control plane instance\n")
    await out('[download-certs] Downloading the certificates in Secret "kubeadm-certs" in the "kube-system" '
              "Namespace\n")
    if state.cert_key is None or state.cert_key[1] <= time.time() or cert_key != state.cert_key[0]:
        reason = ("Secret \"kubeadm-certs\" was not found in the \"kube-system\" Namespace. This Secret might have "
                  "expired. Please, run `kubeadm init phase upload-certs --upload-certs` on a control plane to "
                  "generate a new one") if state.cert_key is None or state.cert_key[1] <= time.time() else \
            "error decoding secret data with provided key: cipher: message authentication failed"
        await err(f"error execution phase control-plane-prepare/download-certs: error downloading certs: "
                  f"{reason}\n{STACK_HINT}")
        return 1
    for line in ('[download-certs] Saving the certificates to the folder: "/etc/kubernetes/pki"',
                 '[certs] Using certificateDir folder "/etc/kubernetes/pki"',
                 '[kubeconfig] Generating kubeconfig files',
                 '[control-plane] Creating static Pod manifest for "kube-apiserver"',
                 "[check-etcd] Checking that the etcd cluster is healthy",
                 '[kubelet-start] Writing kubelet configuration to file "/var/lib/kubelet/config.yaml"',
                 "[kubelet-start] Starting the kubelet",
                 "[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap..."):
        await out(line + "\n")
        await asyncio.sleep(0.02)
    if state.fault("join-halfway"):
        async def announce() -> None:  # only `member add`: the member is never started
            rc, _, e = await ring.run_etcdctl("member", "add", node, f"--peer-urls={member.peer_url}")
            if rc != 0:
                raise RuntimeError(e.strip() or f"etcdctl member add exited {rc}")

        try:
            await add_with_retries(node, announce)
            rc, e = 0, ""
        except Exception as exc:  # the join fails either way; the log says whether the member was announced
            rc, e = 1, str(exc)
        state.half_joined.add(node)
        await out("[etcd] Announced new etcd member joining to the existing etcd cluster\n")
        await out('[etcd] Creating static Pod manifest for "etcd"\n')
        await out("[etcd] Waiting for the new etcd member to join the cluster. This can take up to 40s\n")
        log.info("kubeadm join on %s: halfway fault (member add rc=%s %s)", node, rc, e.strip()[-200:])
        await err("error execution phase control-plane-join/etcd: error creating local etcd static pod manifest "
                  f"file: timeout waiting for etcd cluster to be available\n{STACK_HINT}")
        return 1
    try:
        await join_with_retries(ring, node)
    except Exception as exc:
        await err(klog_warning("etcd.go:569", f"[etcd] {str(exc).splitlines()[-1] if str(exc) else exc}"))
        await err("error execution phase control-plane-join/etcd: error creating local etcd static pod manifest "
                  f"file: timeout waiting for etcd cluster to be available\n{STACK_HINT}")
        return 1
    await out("[etcd] Announced new etcd member joining to the existing etcd cluster\n")
    await out('[etcd] Creating static Pod manifest for "etcd"\n')
    await out("[etcd] Waiting for the new etcd member to join the cluster. This can take up to 40s\n")
    await out(f"[mark-control-plane] Marking the node {node} as control-plane by adding the labels: "
              "[node-role.kubernetes.io/control-plane node.kubernetes.io/exclude-from-external-load-balancers]\n")
    await out(f"[mark-control-plane] Marking the node {node} as control-plane by adding the taints "
              "[node-role.kubernetes.io/control-plane:NoSchedule]\n")
    await out(JOINED)
    return 0


JOINED = """
This node has joined the cluster and a new control plane instance was created:

* Certificate signing request was sent to apiserver and approval was received.
* The Kubelet was informed of the new secure connection details.
* Control plane label and taint were applied to the new node.
* The Kubernetes control plane instances scaled up.
* A new etcd member was added to the local/stacked etcd cluster.

To start administering your cluster from this node, you need to run the following as a regular user:

\tmkdir -p $HOME/.kube
\tsudo cp -i /etc/kubernetes/admin.conf $HOME/.kube/config
\tsudo chown $(id -u):$(id -g) $HOME/.kube/config

Run 'kubectl get nodes' to see this node join the cluster.

"""

