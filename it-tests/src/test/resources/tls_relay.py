"""A QMP client's TLS side, with Python's standard ssl module only.

Usage: tls_relay.py UNIX_PATH HOST PORT SERVER_NAME CA_FILE [CERT_FILE KEY_FILE]

Listens on UNIX_PATH for one local connection, then connects to HOST:PORT with TLS 1.3: the
server's certificate is verified against CA_FILE and SERVER_NAME (also sent as SNI), and
CERT_FILE/KEY_FILE is presented as the client certificate when given. From then on it relays
bytes both ways unchanged. It reports on stdout: LISTENING, then CONNECTED <version> or
HANDSHAKE-FAILED <error>, and at the end EOF (the server closed) or TLS-ERROR <error> (such as
the server's alert refusing the client certificate, which TLS 1.3 delivers after the handshake).
"""
import selectors
import socket
import ssl
import sys


def report(*words):
    print(*words, flush=True)


def main():
    path, host, port, server_name, ca = sys.argv[1:6]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the host name
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_verify_locations(ca)
    if len(sys.argv) > 7:
        context.load_cert_chain(sys.argv[6], sys.argv[7])
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(1)
    report("LISTENING")
    local, _ = listener.accept()
    try:
        remote = context.wrap_socket(socket.create_connection((host, int(port)), timeout=30),
                                     server_hostname=server_name)
    except (OSError, ssl.SSLError) as e:
        report("HANDSHAKE-FAILED", e)
        return 1
    report("CONNECTED", remote.version())
    remote.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(local, selectors.EVENT_READ)
    selector.register(remote, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            if key.fileobj is local:
                data = local.recv(65536)
                if not data:
                    return 0
                remote.setblocking(True)
                remote.sendall(data)
                remote.setblocking(False)
                continue
            while True:
                try:
                    data = remote.recv(65536)
                except ssl.SSLWantReadError:
                    break
                except (OSError, ssl.SSLError) as e:
                    report("TLS-ERROR", e)
                    return 2
                if not data:
                    report("EOF")
                    return 0
                local.sendall(data)
                if not remote.pending():
                    break


if __name__ == "__main__":
    sys.exit(main())
