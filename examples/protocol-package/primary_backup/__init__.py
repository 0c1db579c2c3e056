"""Primary-backup replication with a fixed primary, published to distbench through the
``distbench.protocols`` entry point in this package's pyproject.toml."""

from harness.protocol import ProtocolSpec

from primary_backup.node import PrimaryBackupNode, PrimaryBackupOptions

SPEC = ProtocolSpec("primary-backup", "consensus", PrimaryBackupNode, PrimaryBackupOptions,
                    "primary-backup replication: node 0 orders every command, commits on a majority's copies")
