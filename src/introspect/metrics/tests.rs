//! The lag histogram's buckets, escaping and same-named rows.

use super::*;
use crate::introspect::{ActorInfo, ActorKind, MailboxInfo};

#[test]
fn lag_buckets_turn_cumulative_counts_into_per_bucket_ones() {
    let lag = LagInfo {
        buckets: vec![1, 1, 3, 3, 3, 3, 3, 4, 4, 4, 6],
        ..LagInfo::default()
    };
    let (buckets, count) = lag_buckets(&lag);
    let inside: Vec<u64> = buckets.iter().map(|b| b.1).collect();
    assert_eq!(inside, [1, 0, 2, 0, 0, 0, 0, 1, 0, 0, 2]);
    assert_eq!(buckets[10].0, f64::MAX);
    assert_eq!(count, 6);
}

#[test]
fn lag_buckets_of_a_default_snapshot_are_empty() {
    let (buckets, count) = lag_buckets(&LagInfo::default());
    assert_eq!(buckets.len(), LAG_BUCKETS.len() + 1);
    assert!(buckets.iter().all(|b| b.1 == 0));
    assert_eq!(count, 0);
}

#[test]
fn label_values_are_escaped_and_same_named_actors_add_up() {
    let actor = |id, name: &str, depth| ActorInfo {
        id,
        kind: ActorKind::Application,
        name: Some(name.into()),
        mailbox: MailboxInfo {
            depth,
            bound: Some(10),
        },
        ..ActorInfo::default()
    };
    let actors = vec![
        actor(1, "a\"b\\c\nd", 2),
        actor(2, "w", 1),
        actor(3, "w", 4),
    ];
    let text = encode_metrics(&[Snapshot {
        actors,
        ..Snapshot::default()
    }]);
    let escaped = r#"switchboard_mailbox_depth{loop="0",actor="a\"b\\c\nd"} 2"#;
    assert!(text.contains(escaped), "{text}");
    assert!(text.contains(r#"switchboard_mailbox_depth{loop="0",actor="w"} 5"#));
    assert!(text.contains(r#"switchboard_mailbox_bound{loop="0",actor="w"} 20"#));
}
