//! A hand-built reply for the renderers' unit tests: a group of two loops,
//! the first with a server and two connections, a supervisor with a running
//! and a stopped child, an unbounded mailbox and a child process.

use switchboard::introspect::{
    ActorInfo, ActorKind, ChildInfo, ControlReply, LagInfo, LoopInfo, MailboxInfo, ProcessInfo,
    ServerInfo, Snapshot, SupervisorInfo, TransportInfo,
};

/// An actor row with the fields every row has.
pub fn actor(id: usize, kind: ActorKind, name: Option<&str>, state: &str) -> ActorInfo {
    ActorInfo {
        id,
        generation: 1,
        kind,
        name: name.map(String::from),
        description: format!("{} #{id}", kind.as_str()),
        state: state.to_string(),
        ..ActorInfo::default()
    }
}

/// A connection of server `parent` from `peer`.
pub fn connection(id: usize, parent: usize, peer: &str, t: TransportInfo) -> ActorInfo {
    ActorInfo {
        parent: Some(parent),
        transport: Some(TransportInfo {
            peer: Some(peer.to_string()),
            sock: Some("127.0.0.1:8000".to_string()),
            ..t
        }),
        ..actor(id, ActorKind::Transport, None, "open")
    }
}

/// The reply described in the module doc.
pub fn reply() -> ControlReply {
    let server = ActorInfo {
        server: Some(Box::new(ServerInfo {
            sockets: vec!["127.0.0.1:8000".to_string()],
            connections: 2,
            accepted: 10,
            state: "serving".to_string(),
        })),
        messages: 12,
        ..actor(0, ActorKind::Server, Some("echo"), "serving")
    };
    let quiet = connection(
        1,
        0,
        "127.0.0.1:5555",
        TransportInfo {
            bytes_in: 1536,
            bytes_out: 4096,
            age_seconds: 184.0,
            ..TransportInfo::default()
        },
    );
    let busy = connection(
        2,
        0,
        "127.0.0.1:5556",
        TransportInfo {
            bytes_in: 10,
            bytes_out: 2 * 1024 * 1024,
            write_buffer: 70_000,
            writing_paused: true,
            tls: true,
            ..TransportInfo::default()
        },
    );
    let supervisor = ActorInfo {
        supervisor: Some(Box::new(SupervisorInfo {
            strategy: "one_for_one".to_string(),
            max_restarts: 3,
            within_seconds: 5.0,
            restarts_in_window: 1,
            restarts_total: 4,
            children: vec![
                ChildInfo {
                    name: "worker-a".to_string(),
                    actor: Some(4),
                    restarts: 1,
                },
                ChildInfo {
                    name: "worker-b".to_string(),
                    actor: None,
                    restarts: 3,
                },
            ],
        })),
        ..actor(3, ActorKind::Supervisor, Some("root"), "running")
    };
    let worker = ActorInfo {
        parent: Some(3),
        mailbox: MailboxInfo {
            depth: 50,
            bound: Some(100),
        },
        messages: 7,
        ..actor(4, ActorKind::Application, Some("worker-a"), "running")
    };
    let collector = ActorInfo {
        mailbox: MailboxInfo {
            depth: 12,
            bound: None,
        },
        ..actor(5, ActorKind::Application, Some("collector"), "running")
    };
    let child = ActorInfo {
        process: Some(Box::new(ProcessInfo {
            pid: 1234,
            state: "running".to_string(),
            returncode: None,
        })),
        ..actor(6, ActorKind::Subprocess, None, "running")
    };
    let first = Snapshot {
        lp: LoopInfo {
            group_index: Some(0),
            time: 100.0,
            iterations: 12345,
            tasks: 3,
            timers: 4,
            lag: LagInfo {
                p50: 0.0001,
                p99: 0.0023,
                max: 0.005,
                window: 1024,
                ..LagInfo::default()
            },
            ..LoopInfo::default()
        },
        actors: vec![server, quiet, busy, supervisor, worker, collector, child],
    };
    let second = Snapshot {
        lp: LoopInfo {
            group_index: Some(1),
            time: 100.0,
            iterations: 999,
            ..LoopInfo::default()
        },
        actors: vec![
            actor(0, ActorKind::Server, Some("echo"), "serving"),
            actor(1, ActorKind::Signal, None, "watching"),
        ],
    };
    ControlReply {
        pid: 4242,
        loops: vec![first, second],
    }
}
