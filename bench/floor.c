/*
 * bench/floor.c - the floor of bench/lifecycle.sh: the least a program can do
 * to run /bin/true "in a container", so that a runtime's time and memory can
 * be read as a multiple of it.
 *
 * One clone(2) into new mount, pid, uts, ipc and network namespaces; in the
 * child: every mount made private, the rootfs bind-mounted onto itself,
 * pivot_root into it, the old root detached, /proc mounted, execve
 * /bin/true. The parent waits for it. Nothing else: no config, no state dir,
 * no cgroup, no /dev, no capabilities, seccomp or rlimits, and no second
 * process to split create from start.
 *
 * Usage: floor /ABSOLUTE/ROOTFS     exit 0 iff /bin/true exited 0
 * Build: gcc -O2 -static -o floor floor.c   (lifecycle.sh does it; a dynamic
 *        build works too, it only starts a little slower)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void fail(const char *step)
{
	fprintf(stderr, "floor: %s: %s\n", step, strerror(errno));
	_exit(127);
}

/* The child: pid 1 of its pid namespace, in its own copy of the mounts. */
static void container(const char *rootfs)
{
	char *const argv[] = { "/bin/true", NULL };
	char *const envp[] = { "PATH=/bin", NULL };

	/* Nothing of what follows may propagate back to the host's mounts. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		fail("make / private");
	/* pivot_root needs the new root to be a mount point. */
	if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL))
		fail("bind the rootfs");
	if (chdir(rootfs))
		fail("chdir to the rootfs");
	/* pivot_root(".", ".") puts the old root on top of the new one, where
	 * a lazy unmount of "." removes it: no directory for it is needed. */
	if (syscall(SYS_pivot_root, ".", "."))
		fail("pivot_root");
	if (umount2(".", MNT_DETACH))
		fail("detach the old root");
	if (chdir("/"))
		fail("chdir /");
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
		fail("mount /proc");
	execve(argv[0], argv, envp);
	fail("execve /bin/true");
}

int main(int argc, char **argv)
{
	const long flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS |
			   CLONE_NEWIPC | CLONE_NEWNET | SIGCHLD;
	int status;
	pid_t pid;

	if (argc != 2 || argv[1][0] != '/') {
		fprintf(stderr, "usage: floor /ABSOLUTE/ROOTFS\n");
		return 2;
	}
	/* The raw system call with no stack argument behaves as fork(2) with
	 * the namespace flags added; glibc's clone() wants a new stack. */
	pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
	if (pid < 0)
		fail("clone");
	if (pid == 0)
		container(argv[1]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			fail("waitpid");
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
