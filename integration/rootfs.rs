//! The root filesystem: root.readonly, mounts and their options, /dev,
//! devices, masked and read-only paths, propagation, pivot_root.

use crate::harness::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::symlink;
use std::process::Command;

/// One line of /proc/self/mountinfo.
#[derive(Debug)]
struct MountInfo {
    point: String,
    /// Per-mount options (`ro,nosuid,...`).
    options: Vec<String>,
    /// Optional fields (`shared:N`, `master:N`).
    tags: Vec<String>,
    fstype: String,
}

fn parse_mountinfo(text: &str) -> Vec<MountInfo> {
    text.lines()
        .filter_map(|line| {
            let (pre, post) = line.split_once(" - ")?;
            let f: Vec<&str> = pre.split(' ').collect();
            Some(MountInfo {
                point: f.get(4)?.to_string(),
                options: f.get(5)?.split(',').map(String::from).collect(),
                tags: f[6..].iter().map(|s| s.to_string()).collect(),
                fstype: post.split(' ').next()?.to_string(),
            })
        })
        .collect()
}

/// The topmost mount at `point` in a container's mountinfo.
#[track_caller]
fn mount_at(mountinfo: &str, point: &str) -> MountInfo {
    parse_mountinfo(mountinfo)
        .into_iter()
        .rev()
        .find(|m| m.point == point)
        .unwrap_or_else(|| panic!("nothing mounted at {point}:\n{mountinfo}"))
}

#[test]
fn readonly_root() {
    let t = Test::new();
    let b = t.bundle();
    let out = t.run_sh(
        &b,
        "c",
        "touch /newfile 2>&1; echo rc=$?; touch /tmp/newfile 2>&1; echo rc=$?",
    );
    assert!(
        out.contains("Read-only file system") && out.contains("rc=1"),
        "{out}"
    );
    assert!(!out.contains("rc=0"), "{out}");
    assert!(
        !shared_rootfs().join("newfile").exists() && !shared_rootfs().join("tmp/newfile").exists()
    );
}

#[test]
fn writable_root() {
    let t = Test::new();
    let b = t.bundle_own_rootfs();
    t.run_sh(&b, "c", "echo written > /tmp/newfile");
    assert_eq!(
        fs::read_to_string(b.rootfs.join("tmp/newfile")).unwrap(),
        "written\n"
    );
}

#[test]
fn bind_mounts_ro_and_rw() {
    let t = Test::new();
    let (ro, rw) = (t.host_dir("ro"), t.host_dir("rw"));
    fs::write(ro.join("existing"), "content\n").unwrap();
    let b = t.bundle();
    b.bind(&ro, "/home", &["ro"]).bind(&rw, "/mnt", &["rw"]);
    let out = t.run_sh(
        &b,
        "c",
        "cat /home/existing; touch /home/new 2>&1; echo rc=$?; echo data > /mnt/new; echo rc=$?",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "content", "{out}");
    assert!(
        lines[1].contains("Read-only file system") && lines[2] == "rc=1",
        "{out}"
    );
    assert_eq!(lines[3], "rc=0", "{out}");
    assert_eq!(fs::read_to_string(rw.join("new")).unwrap(), "data\n");
    assert_eq!(
        fs::read_dir(&ro).unwrap().count(),
        1,
        "the read-only source was written"
    );
}

#[test]
fn mounts_apply_in_order() {
    let t = Test::new();
    let src = t.host_dir("src");
    fs::write(src.join("f"), "from host\n").unwrap();
    let b = t.bundle_own_rootfs();
    b.mount(json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs"}))
        .bind(&src, "/data/sub", &[]);
    let out = t.run_sh(
        &b,
        "c",
        "cat /data/sub/f; grep -c ' /data' /proc/self/mountinfo",
    );
    assert_eq!(out, "from host\n2\n");
    assert!(
        !b.rootfs.join("data/sub").exists(),
        "/data/sub must be made in the tmpfs, not in the image"
    );
}

#[test]
fn bind_of_a_file_creates_the_missing_destination() {
    let t = Test::new();
    let hosts = t.dir.join("hosts");
    fs::write(&hosts, "10.1.2.3 myhost\n").unwrap();
    let b = t.bundle_own_rootfs();
    b.bind(&hosts, "/etc/newdir/hosts", &["ro"]);
    let out = t.run_sh(&b, "c", "cat /etc/newdir/hosts");
    assert_eq!(out, "10.1.2.3 myhost\n");
    assert!(
        b.rootfs.join("etc/newdir/hosts").is_file(),
        "the mount point is a file"
    );
}

/// Files bound as engines bind /etc/hosts: rbind, rprivate, ro (a
/// propagation change on a file mount point).
#[test]
fn bind_of_a_file_with_propagation_like_engines() {
    let t = Test::new();
    let hosts = t.dir.join("hosts");
    fs::write(&hosts, "10.1.2.4 enginehost\n").unwrap();
    let b = t.bundle_own_rootfs();
    b.bind(&hosts, "/etc/hosts", &["rbind", "rprivate", "ro"]);
    let out = t.run_sh(
        &b,
        "c",
        "cat /etc/hosts; grep ' /etc/hosts ' /proc/self/mountinfo | grep -c ' ro,'",
    );
    assert_eq!(out, "10.1.2.4 enginehost\n1\n");
}

#[test]
fn tmpfs_size_and_mode() {
    let t = Test::new();
    let b = t.bundle();
    b.mount(json!({"destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "mode=1770"]}));
    let out = t.run_sh(&b, "c", "stat -c %a /mnt; df -k /mnt | tail -n 1");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1770", "{out}");
    assert_eq!(
        lines[1].split_whitespace().nth(1),
        Some("1024"),
        "size in KiB: {out}"
    );
}

#[test]
fn nosuid_nodev_noexec_are_applied() {
    let t = Test::new();
    let b = t.bundle();
    let flags = ["nosuid", "nodev", "noexec"];
    b.mount(json!({"destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": flags}))
        .bind(
            &t.host_dir("src"),
            "/home",
            &["nosuid", "nodev", "noexec", "ro"],
        );
    let out = t.run_sh(
        &b,
        "c",
        "cat /proc/self/mountinfo; cp /bin/busybox /mnt/bb; /mnt/bb true 2>/dev/null; echo rc=$?",
    );
    for point in ["/mnt", "/home"] {
        let m = mount_at(&out, point);
        for f in flags {
            assert!(
                m.options.iter().any(|o| o == f),
                "{f} missing on {point}: {m:?}"
            );
        }
    }
    assert!(
        mount_at(&out, "/home").options.iter().any(|o| o == "ro"),
        "{out}"
    );
    assert!(
        out.ends_with("rc=126\n"),
        "a program on a noexec mount ran:\n{out}"
    );
}

#[test]
fn mount_propagation_option() {
    let t = Test::new();
    let b = t.bundle();
    b.bind(&t.host_dir("shared"), "/mnt", &["shared"]).bind(
        &t.host_dir("private"),
        "/home",
        &["private"],
    );
    let out = t.run_sh(&b, "c", "cat /proc/self/mountinfo");
    let shared = mount_at(&out, "/mnt");
    assert!(
        shared.tags.iter().any(|t| t.starts_with("shared:")),
        "{shared:?}"
    );
    let private = mount_at(&out, "/home");
    assert!(private.tags.is_empty(), "{private:?}");
}

#[test]
fn tmpcopyup_keeps_the_image_content() {
    let t = Test::new();
    let b = t.bundle();
    b.mount(json!({"destination": "/etc", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup", "mode=755"]}));
    let out = t.run_sh(&b, "c", "grep ^user: /etc/passwd; touch /etc/new && echo writable; grep ' /etc ' /proc/self/mountinfo");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "user:x:1000:1000::/home/user:/bin/sh", "{out}");
    assert_eq!(lines[1], "writable", "{out}");
    assert_eq!(mount_at(&out, "/etc").fstype, "tmpfs", "{out}");
    assert!(
        !shared_rootfs().join("etc/new").exists(),
        "the write reached the image"
    );
}

#[test]
fn rootfs_propagation() {
    let t = Test::new();
    // Own rootfs: a shared root could propagate to the host, and the leak
    // check only sees mounts naming the test dir.
    let b = t.bundle_own_rootfs();
    b.config(|c| c["linux"]["rootfsPropagation"] = json!("shared"));
    let out = t.run_sh(&b, "c", "cat /proc/self/mountinfo");
    let root = mount_at(&out, "/");
    assert!(
        root.tags.iter().any(|t| t.starts_with("shared:")),
        "{root:?}\n{out}"
    );
}

/// On a host whose `/` is shared (every systemd host), pivot_root refuses
/// shared mounts around it: hull keeps them slaves until the new root is
/// in place, then makes it shared as asked. Run in a mount namespace of
/// the test's own whose mounts are all shared.
#[test]
fn rootfs_propagation_shared_on_a_shared_host_root() {
    let t = Test::new();
    let b = t.bundle_own_rootfs();
    b.config(|c| c["linux"]["rootfsPropagation"] = json!("shared"));
    b.sh("cat /proc/self/mountinfo");
    for (id, prop) in [("shared", Some("shared")), ("default", None)] {
        b.config(|c| match prop {
            Some(p) => c["linux"]["rootfsPropagation"] = json!(p),
            None => c["linux"]
                .as_object_mut()
                .unwrap()
                .remove("rootfsPropagation")
                .map(drop)
                .unwrap_or(()),
        });
        let mut cmd = Command::new("unshare");
        cmd.args(["-m", "--propagation", "shared", HULL, "--root"])
            .arg(&t.root)
            .args(["run", "--bundle", b.path(), id]);
        let out = t.output(&mut cmd).ok();
        let root = mount_at(&out.stdout, "/");
        let shared = root.tags.iter().any(|t| t.starts_with("shared:"));
        assert_eq!(shared, prop.is_some(), "{id}: {root:?}\n{out}");
    }
}

/// A shared mount point whose path has a space holds the rootfs: pivot_root
/// needs that mount made private, found in mountinfo, which escapes the space.
#[test]
fn rootfs_propagation_shared_under_a_path_with_a_space() {
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let t = Test::new();
    let dir = t.host_dir("with space");
    let sh = |args: &[&str]| {
        let ok = Command::new("mount")
            .args(args)
            .arg(&dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mount {args:?} {}", dir.display());
    };
    sh(&["--bind", dir.to_str().unwrap()]);
    let _unmount = Unmount(dir.clone());
    sh(&["--make-shared"]);
    copy_rootfs(&dir.join("rootfs"));
    let b = t.bundle_own_rootfs();
    let rootfs = dir.join("rootfs");
    b.config(|c| {
        c["root"]["path"] = json!(rootfs.to_str().unwrap());
        c["linux"]["rootfsPropagation"] = json!("shared");
    });
    let out = t.run_sh(&b, "space", "cat /proc/self/mountinfo");
    let root = mount_at(&out, "/");
    assert!(
        root.tags.iter().any(|t| t.starts_with("shared:")),
        "{root:?}\n{out}"
    );
}

/// Whether the host's tree lies under the container's root mount in its
/// namespace: `--no-pivot` moves the rootfs over the old root and
/// chroots, pivot_root unmounts the old root. Probed from the host by
/// detaching the container's root mount in its namespace (the container
/// keeps running on it) and looking for the test dir in what is left.
fn host_tree_under_container_root(t: &Test, id: &str) -> bool {
    let pid = t.state(id)["pid"].as_i64().unwrap();
    let nsenter = |args: &[&str]| {
        Command::new("nsenter")
            .arg(format!("--mount=/proc/{pid}/ns/mnt"))
            .args(args)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("nsenter")
            .success()
    };
    assert!(
        nsenter(&["umount", "-l", "/"]),
        "detach the container's root mount"
    );
    nsenter(&["test", "-d", t.dir.to_str().unwrap()])
}

#[test]
fn pivot_root_leaves_no_old_root() {
    let t = Test::new();
    let b = t.bundle();
    b.args(&["sleep", "1000"]);
    t.run_detached(&b, "p");
    assert!(
        !host_tree_under_container_root(&t, "p"),
        "the host's root is still mounted under the container's"
    );
}

#[test]
fn no_pivot_uses_a_chroot() {
    let t = Test::new();
    let b = t.bundle();
    b.sh("ls /bin/busybox; cat /proc/sys/kernel/hostname");
    let out = t
        .hull(&["run", "--no-pivot", "--bundle", b.path(), "np"])
        .ok();
    assert_eq!(out.stdout, "/bin/busybox\nhull\n", "{out}");
    b.args(&["sleep", "1000"]);
    t.hull(&["run", "--detach", "--no-pivot", "--bundle", b.path(), "np2"])
        .ok();
    assert!(
        host_tree_under_container_root(&t, "np2"),
        "--no-pivot must move the rootfs over the old root and chroot"
    );
}

#[test]
fn dev_has_the_standard_devices_and_links() {
    let t = Test::new();
    let b = t.bundle();
    let devices = [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ];
    let names: Vec<&str> = devices.iter().map(|d| d.0).collect();
    let script = format!(
        "cd /dev; for d in {}; do stat -c '%n %F %t,%T' $d; done; \
         for l in ptmx fd stdin stdout stderr; do echo \"$l -> $(readlink $l)\"; done; \
         echo x > /dev/null && head -c 4 /dev/zero | wc -c",
        names.join(" ")
    );
    let out = t.run_sh(&b, "c", &script);
    // stat prints major and minor in hex.
    let mut want: Vec<String> = devices
        .iter()
        .map(|(name, major, minor)| format!("{name} character special file {major:x},{minor:x}"))
        .collect();
    want.extend(
        [
            "ptmx -> pts/ptmx",
            "fd -> /proc/self/fd",
            "stdin -> /proc/self/fd/0",
            "stdout -> /proc/self/fd/1",
            "stderr -> /proc/self/fd/2",
            "4",
        ]
        .map(String::from),
    );
    assert_eq!(out.lines().collect::<Vec<_>>(), want);
}

#[test]
fn linux_devices_are_created() {
    let t = Test::new();
    let b = t.bundle();
    b.config(|c| {
        c["linux"]["devices"] = json!([
            {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600, "uid": 1000, "gid": 1000},
            {"path": "/dev/sub/myzero", "type": "c", "major": 1, "minor": 5}
        ]);
    });
    let out = t.run_sh(&b, "c", "stat -c '%F %t %T %a %u %g' /dev/mynull /dev/sub/myzero; echo x > /dev/sub/myzero && echo ok");
    assert_eq!(
        out,
        "character special file 1 3 600 1000 1000\ncharacter special file 1 5 666 0 0\nok\n"
    );
}

#[test]
fn masked_paths() {
    let t = Test::new();
    let b = t.bundle();
    b.config(|c| {
        let masked = c["linux"]["maskedPaths"].as_array_mut().unwrap();
        masked.extend([
            json!("/etc/group"),
            json!("/home"),
            json!("/does/not/exist"),
        ]);
    });
    let out = t.run_sh(&b, "c",
        "wc -c < /etc/group; ls -A /home | wc -l; touch /home/x 2>/dev/null; echo rc=$?; grep -c ^user: /etc/passwd",
    );
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(
        lines,
        ["0", "0", "rc=1", "1"],
        "masked file empty, masked dir empty and read-only, others intact"
    );
    // From the default list, where this kernel has it.
    if fs::metadata("/proc/timer_list").is_ok() {
        assert_eq!(t.run_sh(&b, "c", "wc -c < /proc/timer_list").trim(), "0");
    }
}

#[test]
fn readonly_paths() {
    let t = Test::new();
    let b = t.bundle();
    let out = t.run_sh(&b, "c",
        "cat /proc/sys/net/ipv4/ip_forward; echo 1 2>&1 > /proc/sys/net/ipv4/ip_forward; echo rc=$?; grep ' /proc/sys ' /proc/self/mountinfo",
    );
    assert!(out.starts_with("0\n"), "{out}");
    assert!(
        out.contains("Read-only file system") && out.contains("rc=1"),
        "{out}"
    );
    assert!(
        mount_at(&out, "/proc/sys")
            .options
            .iter()
            .any(|o| o == "ro"),
        "{out}"
    );
}

/// Mount destinations behind an absolute and a relative symlink that name
/// host dirs must resolve inside the rootfs (where the kernel resolves the
/// links for the container) and leave the host dirs alone. With
/// `targets_exist`, the links' targets exist in the image; without, hull
/// must create them in the rootfs.
fn mount_through_symlinks(targets_exist: bool) {
    let t = Test::new();
    let (abs, rel) = (t.host_dir("outside-abs"), t.host_dir("outside-rel"));
    for d in [&abs, &rel] {
        fs::write(d.join("secret"), "host\n").unwrap();
    }
    let src = t.host_dir("src");
    fs::write(src.join("marker"), "mounted\n").unwrap();
    let b = t.bundle_own_rootfs();
    let inside = |d: &std::path::Path| b.rootfs.join(d.strip_prefix("/").unwrap());
    if targets_exist {
        fs::create_dir_all(inside(&abs)).unwrap();
        fs::create_dir_all(inside(&rel)).unwrap();
    }
    symlink(&abs, b.rootfs.join("escape")).unwrap();
    symlink(
        format!("../../../../../../../..{}", rel.display()),
        b.rootfs.join("tmp/up"),
    )
    .unwrap();
    b.bind(&src, "/escape/sub", &[])
        .mount(json!({"destination": "/tmp/up", "type": "tmpfs", "source": "tmpfs"}));
    let out = t.run_sh(&b, "c", "cat /escape/sub/marker; cat /proc/self/mountinfo");
    assert!(out.starts_with("mounted\n"), "{out}");
    mount_at(&out, &format!("{}/sub", abs.display()));
    assert_eq!(
        mount_at(&out, &rel.display().to_string()).fstype,
        "tmpfs",
        "{out}"
    );
    assert!(
        inside(&abs).join("sub").is_dir(),
        "destination not created inside the rootfs"
    );
    for d in [&abs, &rel] {
        let names: Vec<_> = fs::read_dir(d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(
            names,
            ["secret"],
            "the host dir {} was touched",
            d.display()
        );
    }
}

#[test]
fn mount_destination_symlink_stays_in_the_rootfs() {
    mount_through_symlinks(true);
}

#[test]
fn mount_destination_through_dangling_symlink_is_created_in_the_rootfs() {
    mount_through_symlinks(false);
}

/// A read-only /dev tmpfs (runc bats "ro /dev mount"): its submounts and
/// device nodes are made first, then it turns read-only.
#[test]
fn a_read_only_dev_still_gets_its_mounts_and_devices() {
    let t = Test::new();
    let b = t.bundle();
    b.config(|c| {
        for m in c["mounts"].as_array_mut().unwrap() {
            if m["destination"] == "/dev" {
                m["options"].as_array_mut().unwrap().push(json!("ro"));
            }
        }
    });
    let out = t.run_sh(
        &b,
        "rodev",
        "ls -d /dev/pts /dev/null; echo x > /dev/null && echo null-ok; \
         touch /dev/new 2>/dev/null && echo WRITABLE || echo read-only",
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["/dev/null", "/dev/pts", "null-ok", "read-only"]
    );
}

/// runtime-tools' `mounts` puts filesystem data options on a bind mount:
/// passed on as runc does (the kernel ignores them), with a warning; a
/// bare unknown word there is still refused.
#[test]
fn data_options_on_a_bind_mount_are_accepted_with_a_warning() {
    let t = Test::new();
    let b = t.bundle();
    let src = t.host_dir("bindsrc");
    fs::write(src.join("f"), "here").unwrap();
    b.bind(&src, "/mnt", &["mode=755", "size=1k"])
        .sh("cat /mnt/f");
    let out = t.hull(&["run", "--bundle", b.path(), "binddata"]).ok();
    assert_eq!(out.stdout, "here");
    assert!(
        out.stderr
            .contains(r#""mode=755,size=1k" has no effect on a bind mount"#),
        "{out}"
    );
}
