//! Unit tests of [`super::Batch`]: replies judged, refusals named, bookkeeping kept in place.
use super::*;

fn error(text: &str) -> Value {
    let err = redis::parse_redis_value(format!("-{text}\r\n").as_bytes()).unwrap();
    assert!(matches!(err, Value::ServerError(_)));
    err
}

fn batch() -> Batch {
    let mut batch = Batch::default();
    batch.command(
        Replies::Strict,
        b"k1".to_vec(),
        &[&b"RESTORE"[..], b"k1", b"0", b"x"],
    );
    batch.select(3);
    let mut push = batch.push(Replies::Replicated);
    push.commands().push(&[&b"INCR"[..], b"n"]);
    push.commands().push(&[&b"INCR"[..], b"n"]);
    assert_eq!(push.concerning(b"n".to_vec()), 2);
    batch
}

#[test]
fn every_command_is_known_by_its_key_and_database() {
    let batch = batch();
    assert_eq!(batch.len(), 4, "RESTORE, SELECT, INCR, INCR");
    let replies = vec![Value::Okay, Value::Okay, error("ERR boom"), Value::Okay];
    let refused = batch.outcome(replies, false).unwrap();
    assert_eq!(
        refused,
        [Refusal {
            db: 3,
            key: b"n".to_vec(),
            reply: "ERR boom".into()
        }]
    );
}

#[test]
fn refusals_read_as_the_server_sent_them() {
    let batch = batch();
    for text in [
        "OOM command not allowed when used memory > 'maxmemory'.",
        "NOPERM no",
        "READONLY You can't write against a read only replica.",
    ] {
        let replies = vec![Value::Okay, Value::Okay, Value::Okay, error(text)];
        let Err(BatchFailure::Refused { refusal, .. }) = batch.outcome(replies, false) else {
            panic!("accepted {text}")
        };
        assert_eq!(refusal.reply, text);
        assert!(!crate::error::hint_for(&refusal.reply).is_empty(), "{text}");
    }
}

#[test]
fn a_strict_command_refused_fails_the_batch() {
    let batch = batch();
    let replies = vec![
        error("ERR Bad data format"),
        Value::Okay,
        Value::Okay,
        Value::Okay,
    ];
    let Err(BatchFailure::Refused { refusal, ran_rest }) = batch.outcome(replies, false) else {
        panic!("accepted")
    };
    assert_eq!((refusal.db, &refusal.key[..]), (0, &b"k1"[..]));
    assert!(!ran_rest);
}

#[test]
fn faults_of_the_destination_are_never_accepted() {
    let batch = batch();
    let replies = vec![
        Value::Okay,
        Value::Okay,
        Value::Okay,
        error("OOM no memory"),
    ];
    assert!(matches!(
        batch.outcome(replies, false),
        Err(BatchFailure::Refused { .. })
    ));
}

#[test]
fn transactions_are_unpacked() {
    let batch = batch();
    let queued = |n| std::iter::repeat_n(Value::Okay, n);
    // MULTI, four QUEUED, EXEC with one reply per command.
    let mut replies: Vec<Value> = queued(5).collect();
    replies.push(Value::Array(vec![
        Value::Okay,
        Value::Okay,
        error("WRONGTYPE Operation against a key holding the wrong kind of value"),
        Value::Okay,
    ]));
    assert_eq!(batch.outcome(replies, true).unwrap().len(), 1);

    // A command refused while queuing: nothing ran.
    let mut replies: Vec<Value> = queued(3).collect();
    replies.push(error("ERR unknown command 'INCR'"));
    replies.push(Value::Okay);
    replies.push(error("EXECABORT Transaction discarded"));
    let Err(BatchFailure::Refused { refusal, ran_rest }) = batch.outcome(replies, true) else {
        panic!("accepted")
    };
    assert_eq!(refusal.key, b"n");
    assert!(!ran_rest);

    // A strict command failing inside EXEC: the rest ran.
    let mut replies: Vec<Value> = queued(5).collect();
    replies.push(Value::Array(vec![
        error("ERR Bad data format"),
        Value::Okay,
        Value::Okay,
        Value::Okay,
    ]));
    assert!(matches!(
        batch.outcome(replies, true),
        Err(BatchFailure::Refused { ran_rest: true, .. })
    ));

    let mut replies: Vec<Value> = queued(5).collect();
    replies.push(Value::Nil);
    assert!(matches!(
        batch.outcome(replies, true),
        Err(BatchFailure::Aborted(_))
    ));
}

#[test]
fn a_batch_with_replicated_commands_is_not_replayable() {
    let mut batch = Batch::default();
    batch.command(
        Replies::Strict,
        b"k".to_vec(),
        &[&b"RESTORE"[..], b"k", b"0", b"x"],
    );
    assert!(batch.replayable());
    batch.command(Replies::Replicated, b"n".to_vec(), &[&b"INCR"[..], b"n"]);
    assert!(!batch.replayable());
    batch.clear();
    assert!(batch.replayable());
}

#[test]
fn writes_that_join_an_open_mset_add_no_command() {
    let mut batch = Batch::default();
    let added: Vec<usize> = (0..3)
        .map(|i| {
            let key = format!("k{i}").into_bytes();
            let mut push = batch.push(Replies::Strict);
            push.commands().mset_pair(&key, b"v");
            push.concerning(key)
        })
        .collect();
    assert_eq!(added, [1, 0, 0]);
    assert_eq!((batch.len(), batch.writes()), (1, 3));
}

#[test]
fn a_bookkeeping_key_is_deleted_in_the_database_it_was_written_in() {
    let mut batch = Batch::default();
    batch.select(3);
    batch.delete_when_stored(b"__slotstream:part:{big}".to_vec());
    // The checkpoints, in db 0.
    batch.select(0);
    batch.command(
        Replies::Strict,
        b"cp".to_vec(),
        &[&b"HSET"[..], b"cp", b"f", b"1"],
    );
    batch.forget_when_stored();
    let mut replies = vec![Value::Okay; batch.len()];
    *replies.last_mut().unwrap() = error("ERR boom");
    let Err(BatchFailure::Refused { refusal, .. }) = batch.outcome(replies, false) else {
        panic!("the DEL's refusal was accepted");
    };
    assert_eq!(refusal.key, b"__slotstream:part:{big}");
    assert_eq!(
        refusal.db, 3,
        "the DEL ran in another database than its key's"
    );
}

#[test]
fn clearing_returns_the_tally_and_keeps_the_database() {
    let mut batch = batch();
    batch.tally.records = 2;
    assert_eq!(batch.clear().records, 2);
    assert!(batch.is_empty());
    assert_eq!(
        batch.db(),
        3,
        "the connection stays where the batch left it"
    );
    assert_eq!(batch.tally, Tally::default());
}
