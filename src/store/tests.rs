//! Store unit tests on real files in temporary directories.

use std::sync::{Arc, Mutex};

use serde_json::json;

use super::*;
use crate::domain::{Kind, ResourceId};

fn resource(name: &str, ext: Option<&str>) -> StoredResource {
    let mut attributes = json!({ "userName": name });
    if let Some(ext) = ext {
        attributes["externalId"] = json!(ext);
    }
    StoredResource::for_test(attributes)
}

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("scimd.redb")).unwrap();
    (dir, store)
}

#[test]
fn indexes_follow_puts_and_deletes() {
    let (_dir, store) = open();
    let mut user = resource("Alice@Example.org", Some("ext-1"));
    store.write(|w| w.put(Kind::User, &user, None)).unwrap();
    let r = store.read().unwrap();
    assert_eq!(r.id_by_name(Kind::User, "alice@example.ORG").unwrap(), Some(user.id));
    assert_eq!(r.ids_by_external_id(Kind::User, "ext-1").unwrap(), vec![user.id]);
    assert!(r.ids_by_external_id(Kind::User, "EXT-1").unwrap().is_empty());
    drop(r);

    let old = user.clone();
    user.attributes = json!({ "userName": "bob@example.org", "externalId": "ext-2" });
    store.write(|w| w.put(Kind::User, &user, Some(&old))).unwrap();
    let r = store.read().unwrap();
    assert_eq!(r.id_by_name(Kind::User, "alice@example.org").unwrap(), None);
    assert_eq!(r.id_by_name(Kind::User, "BOB@example.org").unwrap(), Some(user.id));
    assert!(r.ids_by_external_id(Kind::User, "ext-1").unwrap().is_empty());
    drop(r);

    let removed = store.write(|w| w.delete(Kind::User, user.id)).unwrap();
    assert_eq!(removed.map(|r| r.id), Some(user.id));
    let r = store.read().unwrap();
    assert_eq!(r.id_by_name(Kind::User, "bob@example.org").unwrap(), None);
    assert_eq!(r.count(Kind::User).unwrap(), 0);
}

#[test]
fn deleting_a_member_or_group_removes_both_membership_rows() {
    let (_dir, store) = open();
    let (a, b) = (resource("a", None), resource("b", None));
    let g = ResourceId::new_random();
    store
        .write(|w| {
            w.put(Kind::User, &a, None)?;
            w.put(Kind::User, &b, None)?;
            assert!(w.add_member(g, a.id, MemberKind::User)?);
            assert!(!w.add_member(g, a.id, MemberKind::User)?);
            w.add_member(g, b.id, MemberKind::User)?;
            Ok::<_, StoreError>(())
        })
        .unwrap();
    assert_eq!(store.read().unwrap().members_of(g).unwrap().len(), 2);
    store.write(|w| w.delete(Kind::User, a.id)).unwrap();
    let r = store.read().unwrap();
    assert_eq!(r.members_of(g).unwrap(), vec![MemberRow { id: b.id, kind: MemberKind::User }]);
    assert!(r.groups_of(a.id).unwrap().is_empty());
    assert_eq!(r.groups_of(b.id).unwrap(), vec![g]);
}

#[test]
fn a_failed_write_leaves_nothing() {
    let (_dir, store) = open();
    let user = resource("a", None);
    let result: Result<(), StoreError> = store.write(|w| {
        w.put(Kind::User, &user, None)?;
        Err(StoreError::Corrupt("stop".into()))
    });
    assert!(result.is_err());
    assert_eq!(store.read().unwrap().count(Kind::User).unwrap(), 0);
}

#[test]
fn refuses_a_newer_file_and_a_second_opener() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scimd.redb");
    let store = Store::open(&path).unwrap();
    assert!(matches!(Store::open(&path), Err(StoreError::Locked(_))));
    migrate::force_version(&store, migrate::SCHEMA_VERSION + 1).unwrap();
    drop(store);
    assert!(matches!(Store::open(&path), Err(StoreError::NewerSchema { .. })));
}

#[test]
fn log_is_newest_first() {
    let (_dir, store) = open();
    for i in 0..5 {
        let entry = LogEntry {
            seq: 0,
            time: format!("t{i}"),
            token: "t".into(),
            operation: "create".into(),
            resource_type: "User".into(),
            resource_id: None,
            name: None,
            status: 201,
            scim_type: None,
            detail: None,
            roles: None,
        };
        store.write(|w| w.append_log(entry)).unwrap();
    }
    let recent = store.read().unwrap().recent_log(2, |_| true).unwrap();
    assert_eq!(recent.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![5, 4]);
}

fn managed_by(store: &Store, manager: &str) -> Vec<ResourceId> {
    store.write(|w| w.users_managed_by(manager)).unwrap()
}

#[test]
fn manager_index_follows_puts_and_deletes() {
    let (_dir, store) = open();
    let boss = "11111111-2222-3333-4444-555555555555";
    let mut user = resource("u", None);
    user.attributes[crate::domain::ENTERPRISE_USER] = json!({"manager": {"value": boss}});
    store.write(|w| w.put(Kind::User, &user, None)).unwrap();
    assert_eq!(managed_by(&store, boss), vec![user.id]);

    let old = user.clone();
    user.attributes = json!({"userName": "u"});
    store.write(|w| w.put(Kind::User, &user, Some(&old))).unwrap();
    assert!(managed_by(&store, boss).is_empty());

    store.write(|w| w.put(Kind::User, &old, Some(&user))).unwrap();
    store.write(|w| w.delete(Kind::User, old.id)).unwrap();
    assert!(managed_by(&store, boss).is_empty());
}

#[test]
fn migration_to_v2_indexes_existing_managers() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scimd.redb");
    let mut user = resource("u", None);
    user.attributes[crate::domain::ENTERPRISE_USER] = json!({"manager": {"value": "m1"}});
    {
        let store = Store::open(&file).unwrap();
        store.write(|w| w.put(Kind::User, &user, None)).unwrap();
        // As a version-1 file would be: no manager index rows.
        store
            .write(|w| {
                let mut t = w.tx.open_table(tables::USER_MANAGER_INDEX)?;
                t.retain(|_, _| false)?;
                Ok::<_, StoreError>(())
            })
            .unwrap();
        migrate::force_version(&store, 1).unwrap();
        assert!(managed_by(&store, "m1").is_empty());
    }
    let store = Store::open(&file).unwrap();
    assert_eq!(managed_by(&store, "m1"), vec![user.id]);
}

/// The ids a page holds, as `Reader::page` returns them.
fn page_ids(store: &Store, skip: u64, take: u64) -> Vec<ResourceId> {
    let r = store.read().unwrap();
    r.page(Kind::User, skip, take).unwrap().iter().map(|row| row.view().unwrap().id).collect()
}

/// Pages cut at any offset hold exactly the rows a walk in id order would, after creates,
/// replaces and deletes, including many ids sharing one 16-bit slice of the id space.
#[test]
fn pages_start_at_any_offset() {
    let (_dir, store) = open();
    let mut users: Vec<StoredResource> =
        (0..1500).map(|i| resource(&format!("u{i}"), None)).collect();
    for (i, user) in users.iter_mut().take(300).enumerate() {
        // 300 ids in one 12-bit slice of the id space (0xabc…).
        user.id = ResourceId((0xabcd_u128 << 112) | (i as u128) << 40 | 7);
    }
    store
        .write(|w| {
            for u in &users {
                w.put(Kind::User, u, None)?;
            }
            // A replace of an existing row is not a new row.
            w.put(Kind::User, &users[0], Some(&users[0]))
        })
        .unwrap();
    let check = |users: &[StoredResource]| {
        let mut ids: Vec<ResourceId> = users.iter().map(|u| u.id).collect();
        ids.sort();
        let n = ids.len() as u64;
        for skip in [0, 1, 2, 99, 100, 101, 299, 300, 301, 777, n - 1, n, n + 5] {
            let expected: Vec<ResourceId> =
                ids.iter().skip(skip as usize).take(100).copied().collect();
            assert_eq!(page_ids(&store, skip, 100), expected, "skip {skip}");
        }
        assert_eq!(page_ids(&store, 0, u64::MAX), ids);
    };
    check(&users);
    let removed: Vec<StoredResource> = users.drain(100..700).collect();
    store
        .write(|w| {
            for u in &removed {
                w.delete(Kind::User, u.id)?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    check(&users);
}

#[test]
fn migration_to_v3_counts_existing_rows() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scimd.redb");
    let users: Vec<StoredResource> = (0..50).map(|i| resource(&format!("u{i}"), None)).collect();
    {
        let store = Store::open(&file).unwrap();
        store
            .write(|w| {
                for u in &users {
                    w.put(Kind::User, u, None)?;
                }
                Ok::<_, StoreError>(())
            })
            .unwrap();
        // As a version-2 file would be: no counts.
        store
            .write(|w| {
                w.tx.open_table(tables::ROW_BUCKETS)?.retain(|_, _| false)?;
                Ok::<_, StoreError>(())
            })
            .unwrap();
        migrate::force_version(&store, 2).unwrap();
        assert!(page_ids(&store, 10, 5).is_empty());
    }
    let store = Store::open(&file).unwrap();
    let mut ids: Vec<ResourceId> = users.iter().map(|u| u.id).collect();
    ids.sort();
    assert_eq!(page_ids(&store, 10, 5), ids[10..15]);
}

#[test]
fn migration_to_v4_rewrites_rows_in_format_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scimd.redb");
    let mut user = resource("u", Some("e"));
    user.roles_derived = true;
    {
        let store = Store::open(&file).unwrap();
        store.write(|w| w.put(Kind::User, &user, None)).unwrap();
        // As a version-3 file would hold it: the format-1 envelope of the whole resource.
        store
            .write(|w| {
                let bytes = codec::encode(&user)?;
                w.tx.open_table(tables::USERS)?.insert(user.id.0, bytes.as_slice())?;
                Ok::<_, StoreError>(())
            })
            .unwrap();
        migrate::force_version(&store, 3).unwrap();
    }
    let store = Store::open(&file).unwrap();
    let r = store.read().unwrap();
    assert_eq!(r.get(Kind::User, user.id).unwrap(), Some(user.clone()));
    let raw = r.get_raw(Kind::User, user.id).unwrap().unwrap();
    assert_eq!(raw.view().unwrap().attributes, r#"{"userName":"u","externalId":"e"}"#);
}

#[test]
fn inactive_users_are_counted_through_puts_deletes_and_the_v5_migration() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scimd.redb");
    let inactive = |name: &str| {
        let mut user = resource(name, None);
        user.attributes["active"] = json!(false);
        user
    };
    let (a, b, c) = (inactive("a"), inactive("b"), resource("c", None));
    {
        let store = Store::open(&file).unwrap();
        store
            .write(|w| {
                for u in [&a, &b, &c] {
                    w.put(Kind::User, u, None)?;
                }
                Ok::<_, StoreError>(())
            })
            .unwrap();
        assert_eq!(store.read().unwrap().inactive_users().unwrap(), 2);
        // Reactivating one and deleting the other leave none; deactivating c counts it.
        let mut a_active = a.clone();
        a_active.attributes["active"] = json!(true);
        let c_inactive = inactive("c");
        let c_inactive = StoredResource { id: c.id, ..c_inactive };
        store.write(|w| w.put(Kind::User, &a_active, Some(&a))).unwrap();
        store.write(|w| w.delete(Kind::User, b.id).map(|_| ())).unwrap();
        store.write(|w| w.put(Kind::User, &c_inactive, Some(&c))).unwrap();
        assert_eq!(store.read().unwrap().inactive_users().unwrap(), 1);
        // As a version-4 file would be: no index.
        store
            .write(|w| {
                w.tx.open_table(tables::INACTIVE_USERS)?.retain(|_, _| false)?;
                Ok::<_, StoreError>(())
            })
            .unwrap();
        migrate::force_version(&store, 4).unwrap();
    }
    let store = Store::open(&file).unwrap();
    assert_eq!(store.read().unwrap().inactive_users().unwrap(), 1);
}

// ---- the writer thread (group commit) -------------------------------------------------

/// A store whose writer thread is held busy until the returned sender is used, so that the
/// changes submitted meanwhile wait in the queue and commit as one batch.
fn held_writer(
    capacity: usize,
) -> (tempfile::TempDir, Arc<Store>, WriteQueue, std::sync::mpsc::Sender<()>) {
    let (dir, store) = open();
    let store = Arc::new(store);
    let queue = WriteQueue::start(Arc::clone(&store), capacity).unwrap();
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let (started_tx, started) = std::sync::mpsc::channel::<()>();
    let (wait, started_tx) = (Mutex::new(wait), Mutex::new(started_tx));
    let hold = move |_w: &mut Writer| {
        let _ = started_tx.lock().unwrap().send(());
        let _ = wait.lock().unwrap().recv();
        Ok::<_, StoreError>(())
    };
    drop(queue.submit(hold, |_: &mut Writer, _: &StoreError| Ok(())).unwrap());
    // The writer has taken the holding job: the queue is empty and the thread busy.
    started.recv().unwrap();
    (dir, store, queue, release)
}

fn put_user(name: &'static str) -> impl FnMut(&mut Writer) -> Result<ResourceId, StoreError> {
    move |w: &mut Writer| {
        let user = resource(name, None);
        w.put(Kind::User, &user, None)?;
        Ok(user.id)
    }
}

fn log_row(op: &str) -> LogEntry {
    LogEntry {
        seq: 0,
        time: "2026-01-01T00:00:00.000Z".into(),
        token: "t".into(),
        operation: op.into(),
        resource_type: "User".into(),
        resource_id: None,
        name: None,
        status: 400,
        scim_type: None,
        detail: None,
        roles: None,
    }
}

#[derive(Debug)]
enum TestError {
    Refused,
    Store,
}
impl From<StoreError> for TestError {
    fn from(_: StoreError) -> Self {
        TestError::Store
    }
}

fn log_refusal(w: &mut Writer, _: &TestError) -> Result<(), StoreError> {
    w.append_log(log_row("refused")).map(|_| ())
}

#[test]
fn concurrent_changes_commit_as_one_batch_and_a_refusal_fails_alone() {
    let (_dir, store, queue, release) = held_writer(64);
    let ok1 = queue.submit(put_user("a"), |_: &mut Writer, _: &StoreError| Ok(())).unwrap();
    // Refused before writing anything: the batch goes on, its refusal row is written.
    let refused =
        queue.submit(|_w: &mut Writer| Err::<(), _>(TestError::Refused), log_refusal).unwrap();
    // Refused after writing: its row must not survive; the others are redone without it.
    let half = queue
        .submit(
            |w: &mut Writer| {
                w.put(Kind::User, &resource("half-made", None), None)?;
                Err::<(), _>(TestError::Refused)
            },
            log_refusal,
        )
        .unwrap();
    let ok2 = queue.submit(put_user("b"), |_: &mut Writer, _: &StoreError| Ok(())).unwrap();
    release.send(()).unwrap();

    let a = ok1.blocking_recv().unwrap().unwrap();
    let b = ok2.blocking_recv().unwrap().unwrap();
    assert!(matches!(refused.blocking_recv().unwrap(), Err(TestError::Refused)));
    assert!(matches!(half.blocking_recv().unwrap(), Err(TestError::Refused)));

    let r = store.read().unwrap();
    assert!(r.get(Kind::User, a).unwrap().is_some() && r.get(Kind::User, b).unwrap().is_some());
    assert_eq!(r.id_by_name(Kind::User, "half-made").unwrap(), None);
    assert_eq!(r.count(Kind::User).unwrap(), 2);
    let refusals =
        r.recent_log(10, |_| true).unwrap().into_iter().filter(|e| e.operation == "refused");
    assert_eq!(refusals.count(), 2);
    // The holding job, then everything queued behind it in one batch.
    assert_eq!(queue.stats(), WriteStats { batches: 2, changes: 5 });
    queue.stop();
}

#[test]
fn a_full_queue_refuses_at_once() {
    let (_dir, _store, queue, release) = held_writer(2);
    let mut accepted = Vec::new();
    let mut full = 0;
    for name in ["a", "b", "c", "d"] {
        match queue.submit(put_user(name), |_: &mut Writer, _: &StoreError| Ok(())) {
            Ok(r) => accepted.push(r),
            Err(QueueError::Full) => full += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!((accepted.len(), full), (2, 2));
    release.send(()).unwrap();
    for r in accepted {
        r.blocking_recv().unwrap().unwrap();
    }
    queue.stop();
    assert!(matches!(
        queue.submit(put_user("e"), |_: &mut Writer, _: &StoreError| Ok(())),
        Err(QueueError::Stopped)
    ));
}

fn change_event(toe_millis: i64) -> crate::domain::events::ChangeEvent {
    crate::domain::events::ChangeEvent {
        txn: "t".into(),
        toe_millis,
        kind: Kind::User,
        id: ResourceId::new_random(),
        external_id: None,
        change: crate::domain::events::Change::Create,
        activation: None,
        version: Some(1),
        attributes: vec!["userName".into()],
        data: None,
    }
}

#[test]
fn events_are_numbered_in_commit_order_and_pruned_only_once_every_receiver_has_them() {
    let (_dir, store) = open();
    store
        .write(|w| {
            for toe in 1..=5 {
                w.append_event(change_event(toe))?;
            }
            w.set_event_cursor("wiki", &EventCursor { acked: 3, ..EventCursor::default() })?;
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let r = store.read().unwrap();
    let seqs: Vec<u64> = r.events_after(0, 100).unwrap().iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    assert_eq!(r.events_after(3, 1).unwrap()[0].1.toe_millis, 4);
    assert_eq!((r.events_pending(3).unwrap(), r.last_event_seq().unwrap()), (2, 5));
    drop(r);
    // Old enough, but only what the slowest receiver acknowledged goes; then not the newest.
    let pruned = store.write(|w| w.prune_events(3, i64::MAX, 100)).unwrap();
    assert_eq!(pruned, 3);
    assert_eq!(store.write(|w| w.prune_events(u64::MAX, i64::MAX, 100)).unwrap(), 1);
    // Too recent: kept.
    store.write(|w| w.append_event(change_event(100))).unwrap();
    assert_eq!(store.write(|w| w.prune_events(u64::MAX, 5, 100)).unwrap(), 0);
    let r = store.read().unwrap();
    let seqs: Vec<u64> = r.events_after(0, 100).unwrap().iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, [5, 6], "numbers never repeat");
    assert_eq!(r.event_cursor("wiki").unwrap().unwrap().acked, 3);
    drop(r);
    store.write(|w| w.remove_event_cursor("wiki")).unwrap();
    assert!(store.read().unwrap().event_cursors().unwrap().is_empty());
}

#[test]
fn names_after_pages_the_name_index_both_ways_reading_only_the_page() {
    let (_dir, store) = open();
    let names = ["carol", "Alice", "bob", "dave"];
    store
        .write(|w| {
            for name in names {
                w.put(Kind::User, &resource(name, None), None)?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let r = store.read().unwrap();
    let keys = |after: Option<&str>, descending: bool, limit: usize| -> Vec<String> {
        let page = r.names_after(Kind::User, after, descending, limit).unwrap();
        page.into_iter().map(|(key, _)| key).collect()
    };
    assert_eq!(keys(None, false, 2), ["alice", "bob"]);
    assert_eq!(keys(Some("bob"), false, 10), ["carol", "dave"]);
    assert_eq!(keys(None, true, 3), ["dave", "carol", "bob"]);
    assert_eq!(keys(Some("bob"), true, 3), ["alice"]);
    assert!(keys(Some("dave"), false, 3).is_empty());
}

#[test]
fn members_after_pages_one_group_in_member_id_order() {
    let (_dir, store) = open();
    let (g, other) = (ResourceId::new_random(), ResourceId::new_random());
    let mut members: Vec<ResourceId> = (0..5).map(|_| ResourceId::new_random()).collect();
    store
        .write(|w| {
            for &m in &members {
                w.add_member(g, m, MemberKind::User)?;
                w.add_member(other, m, MemberKind::User)?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    members.sort();
    let r = store.read().unwrap();
    let ids = |after: Option<ResourceId>| -> Vec<ResourceId> {
        r.members_after(g, after, 2).unwrap().into_iter().map(|row| row.id).collect()
    };
    assert_eq!(ids(None), members[..2]);
    assert_eq!(ids(Some(members[1])), members[2..4]);
    assert_eq!(ids(Some(members[3])), members[4..]);
    assert!(ids(Some(members[4])).is_empty());
}

#[test]
fn log_before_looks_at_no_more_than_its_budget_and_says_where_to_go_on() {
    let (_dir, store) = open();
    for i in 0..10 {
        let mut entry = log_row("create");
        entry.status = if i % 3 == 0 { 400 } else { 201 };
        store.write(|w| w.append_log(entry)).unwrap();
    }
    let r = store.read().unwrap();
    let refused = |e: &LogEntry| e.status == 400;
    // Entries 10..=1, refused ones are 10, 7, 4, 1.
    let (found, older) = r.log_before(None, 10, 4, refused).unwrap();
    assert_eq!(found.iter().map(|e| e.seq).collect::<Vec<_>>(), [10, 7]);
    assert_eq!(older, Some(7));
    let (found, older) = r.log_before(older, 10, 100, refused).unwrap();
    assert_eq!(found.iter().map(|e| e.seq).collect::<Vec<_>>(), [4, 1]);
    assert_eq!(older, None);
    let (found, _) = r.log_before(None, 1, 100, refused).unwrap();
    assert_eq!(found.iter().map(|e| e.seq).collect::<Vec<_>>(), [10]);
}

#[test]
fn log_about_reads_a_resources_history_through_the_index_and_pruning_keeps_it_in_step() {
    let (_dir, store) = open();
    let (a, b) = (ResourceId::new_random(), ResourceId::new_random());
    let about = |id: Option<ResourceId>, name: &str, time: &str| {
        let mut entry = log_row("patch");
        entry.resource_id = id.map(|i| i.to_string());
        entry.name = Some(name.into());
        entry.time = time.into();
        entry
    };
    store
        .write(|w| {
            // A refused create of "Ann" (no id yet), then Ann's rows among Bob's.
            w.append_log(about(None, "Ann", "2026-01-01T00:00:00.000Z"))?;
            for i in 0..50 {
                w.append_log(about(Some(b), "bob", "2026-01-02T00:00:00.000Z"))?;
                if i % 10 == 0 {
                    w.append_log(about(Some(a), "ann", "2026-01-02T00:00:00.000Z"))?;
                }
            }
            // Another resource type with the same name, and an id that is not one.
            let mut group = about(None, "ann", "2026-01-03T00:00:00.000Z");
            group.resource_type = "Group".into();
            w.append_log(group)?;
            let mut junk = about(None, "x", "2026-01-03T00:00:00.000Z");
            junk.resource_id = Some("<script>".into());
            w.append_log(junk)?;
            w.append_log(about(Some(b), "bob", "2026-01-04T00:00:00.000Z"))
        })
        .unwrap();
    let ann = [Subject::Id(a), Subject::Name { resource_type: "User".into(), name: "ANN".into() }];
    let r = store.read().unwrap();
    let history = r.log_about(&ann, 100).unwrap();
    assert_eq!(history.len(), 6, "five rows by id and the refused create by name");
    assert!(history.windows(2).all(|w| w[0].seq > w[1].seq), "newest first");
    assert_eq!(history.last().unwrap().resource_id, None);
    assert_eq!(r.log_about(&ann, 2).unwrap().len(), 2);
    drop(r);
    // Pruning what is older than Jan 2 takes the refused create out of the index as well.
    store.write(|w| w.prune_log("2026-01-02T00:00:00.000Z", 1000)).unwrap();
    let history = store.read().unwrap().log_about(&ann, 100).unwrap();
    assert_eq!(history.len(), 5);
    assert!(history.iter().all(|e| e.resource_id == Some(a.to_string())));
}

#[test]
fn the_upgrade_to_schema_8_indexes_the_log_already_stored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scimd.redb");
    let store = Store::open(&path).unwrap();
    let id = ResourceId::new_random();
    store
        .write(|w| {
            for _ in 0..3 {
                let mut entry = log_row("patch");
                entry.resource_id = Some(id.to_string());
                w.append_log(entry)?;
            }
            // A version-7 file: the log without its index.
            w.tx.delete_table(tables::LOG_BY_SUBJECT).map_err(redb::Error::from)?;
            Ok::<_, StoreError>(())
        })
        .unwrap();
    migrate::force_version(&store, 7).unwrap();
    drop(store);
    let store = Store::open(&path).unwrap();
    let history = store.read().unwrap().log_about(&[Subject::Id(id)], 10).unwrap();
    assert_eq!(history.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 2, 1]);
}

#[test]
fn log_since_stops_at_the_first_older_entry() {
    let (_dir, store) = open();
    for (time, status) in
        [("2026-01-01", 400), ("2026-01-02", 400), ("2026-01-03", 201), ("2026-01-04", 400)]
    {
        let mut entry = log_row("create");
        entry.time = format!("{time}T00:00:00.000Z");
        entry.status = status;
        store.write(|w| w.append_log(entry)).unwrap();
    }
    let r = store.read().unwrap();
    let refused = |e: &LogEntry| e.status >= 400;
    let since = |t: &str, budget| r.log_since(t, 10, budget, refused).unwrap();
    assert_eq!(
        since("2026-01-02T00:00:00.000Z", 100).iter().map(|e| e.seq).collect::<Vec<_>>(),
        [4, 2]
    );
    assert_eq!(since("2026-01-05T00:00:00.000Z", 100).len(), 0);
    assert_eq!(since("2000-01-01T00:00:00.000Z", 2).iter().map(|e| e.seq).collect::<Vec<_>>(), [4]);
}
