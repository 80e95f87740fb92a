/*
 * pppd plugin of the lab BRAS (`plugin` in /etc/ppp/pppoe-server-options): the per-account answers a
 * RADIUS server gives a real BAS, read from /etc/ppp/hkl-accounts at each session, one line each:
 *     <user> <max_sessions> <first fixed address or ->
 * (disabled accounts are simply absent from chap-secrets/pap-secrets, so pppd's own authentication
 * fails them).
 * - max_sessions: a session that authenticates while the account already has that many live sessions
 *   is ended at once with LCP Terminate-Request "Session limit exceeded", before IPCP: the client sees
 *   its authentication succeed and the link close, as with a simultaneous-use reject.
 * - fixed address: the account's first concurrent session gets that address, the next one address+1,
 *   and so on (a block of max_sessions addresses) instead of one from pppoe-server's pool.
 * Live sessions are files /run/hkl-bras/<pppd pid> holding "<user> <address or ->"; a file whose pppd
 * is gone does not count, so nothing needs cleaning after a crash. The file goes when the link goes down
 * (a RADIUS Accounting-Stop), not when pppd exits: pppd lingers for its ip-down scripts, and a client
 * that redials at once must not find its own ended session still counted against its limit.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef PPPD_VERSION
#error "build with -DPPPD_VERSION=\"<pppd --version>\""
#endif

char pppd_version[] = PPPD_VERSION; /* pppd refuses a plugin built for another version */

/* pppd's plugin interface (pppd.h of the same version; the headers are not installed here) */
struct notifier;
extern char peer_authname[];
extern struct notifier *auth_up_notifier;
extern struct notifier *link_down_notifier;
extern void (*ip_choose_hook)(uint32_t *);
void add_notifier(struct notifier **, void (*)(void *, int), void *);
void timeout(void (*)(void *), void *, int, int);
void lcp_close(int, char *);
void notice(char *, ...); /* pppd's warn() and error() would bind to glibc's functions of those names */

#define ACCOUNTS "/etc/ppp/hkl-accounts"
#define SESSIONS "/run/hkl-bras"

struct account {
	int max_sessions;
	uint32_t first; /* host byte order; 0: addresses come from the pool */
};

static int refused;

static int find_account(const char *user, struct account *acc)
{
	char line[600], name[256], addr[64];
	struct in_addr a;
	int found = 0;
	FILE *f = fopen(ACCOUNTS, "r");

	if (!f) {
		notice("hkl-bras: cannot read " ACCOUNTS ": %m");
		return 0;
	}
	while (!found && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%255s %d %63s", name, &acc->max_sessions, addr) != 3 || strcmp(name, user))
			continue;
		acc->first = strcmp(addr, "-") && inet_aton(addr, &a) ? ntohl(a.s_addr) : 0;
		found = 1;
	}
	fclose(f);
	return found;
}

static int lock_sessions(void)
{
	int fd;

	mkdir(SESSIONS, 0700);
	fd = open(SESSIONS "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		flock(fd, LOCK_EX);
	return fd;
}

static int pppd_alive(const char *pid)
{
	char path[300], comm[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/comm", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	return strcmp(comm, "pppd\n") == 0;
}

/* Calls fn(user, address, arg) for every live session other than ours. */
static void each_session(void (*fn)(const char *, const char *, void *), void *arg)
{
	char self[16], path[300], user[256], addr[64];
	struct dirent *de;
	DIR *dir = opendir(SESSIONS);
	FILE *f;

	if (!dir)
		return;
	snprintf(self, sizeof(self), "%d", (int)getpid());
	while ((de = readdir(dir))) {
		if (de->d_name[0] == '.' || !strcmp(de->d_name, self) || !pppd_alive(de->d_name))
			continue;
		snprintf(path, sizeof(path), SESSIONS "/%s", de->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		if (fscanf(f, "%255s %63s", user, addr) == 2)
			fn(user, addr, arg);
		fclose(f);
	}
	closedir(dir);
}

static void record_session(const char *user, const char *addr)
{
	char path[64], tmp[80];
	FILE *f;

	snprintf(path, sizeof(path), SESSIONS "/%d", (int)getpid());
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (!(f = fopen(tmp, "w")))
		return;
	fprintf(f, "%s %s\n", user, addr);
	if (fclose(f) == 0)
		rename(tmp, path);
}

struct count_arg {
	const char *user;
	int n;
};

static void count_user(const char *user, const char *addr, void *arg)
{
	struct count_arg *c = arg;

	(void)addr;
	if (!strcmp(user, c->user))
		c->n++;
}

static void refuse_now(void *arg)
{
	(void)arg;
	lcp_close(0, "Session limit exceeded");
}

static void on_auth_up(void *arg, int unused)
{
	struct count_arg live = { peer_authname, 0 };
	struct account acc;
	int lock = lock_sessions();

	(void)arg;
	(void)unused;
	each_session(count_user, &live);
	if (find_account(peer_authname, &acc) && live.n >= acc.max_sessions) {
		refused = 1;
		notice("hkl-bras: refused session of %s: %d of max_sessions %d already up", peer_authname,
		     live.n, acc.max_sessions);
		timeout(refuse_now, NULL, 0, 0); /* from the main loop, once auth is done */
	} else {
		record_session(peer_authname, "-");
	}
	if (lock >= 0)
		close(lock);
}

struct addr_arg {
	const char *addr;
	int taken;
};

static void addr_taken(const char *user, const char *addr, void *arg)
{
	struct addr_arg *a = arg;

	(void)user;
	if (!strcmp(addr, a->addr))
		a->taken = 1;
}

static void choose_ip(uint32_t *hisaddr)
{
	struct account acc;
	struct in_addr a;
	char text[INET_ADDRSTRLEN];
	int lock, k;

	if (refused || !find_account(peer_authname, &acc) || !acc.first)
		return;
	lock = lock_sessions();
	for (k = 0; k < acc.max_sessions; k++) {
		struct addr_arg taken = { text, 0 };

		a.s_addr = htonl(acc.first + k);
		inet_ntop(AF_INET, &a, text, sizeof(text));
		each_session(addr_taken, &taken);
		if (!taken.taken) {
			record_session(peer_authname, text);
			*hisaddr = a.s_addr;
			notice("hkl-bras: fixed address %s for %s", text, peer_authname);
			break;
		}
	}
	if (k == acc.max_sessions)
		notice("hkl-bras: every fixed address of %s is in use, using the pool", peer_authname);
	if (lock >= 0)
		close(lock);
}

static void on_link_down(void *arg, int unused)
{
	char path[64];
	int lock = lock_sessions();

	(void)arg;
	(void)unused;
	snprintf(path, sizeof(path), SESSIONS "/%d", (int)getpid());
	unlink(path);
	if (lock >= 0)
		close(lock);
}

void plugin_init(void)
{
	add_notifier(&auth_up_notifier, on_auth_up, NULL);
	add_notifier(&link_down_notifier, on_link_down, NULL);
	ip_choose_hook = choose_ip;
}
