/*
 * The lab guests' syslog daemon: receives datagrams on a /dev/log socket and
 * appends them, one line each, to a log file.  pppoe-server logs only to
 * syslog and pppd logs there too; the file lives in the host-visible guest
 * dir.  The "<PRI>" prefix is turned into a "facility.severity" word.
 *
 * usage: syslogd SOCKET LOGFILE   (stays in the foreground)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static const char *const facilities[] = {
	"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "authpriv", "ftp", "ntp", "audit", "alert", "clock",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
};
static const char *const severities[] = {
	"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

int main(int argc, char **argv)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char msg[8192], line[8300];
	int sock, out;

	if (argc != 3 || strlen(argv[1]) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "usage: %s SOCKET LOGFILE\n", argv[0]);
		return 2;
	}
	strcpy(addr.sun_path, argv[1]);
	unlink(argv[1]);
	sock = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (sock < 0 || bind(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		perror("syslogd: socket");
		return 1;
	}
	out = open(argv[2], O_WRONLY | O_CREAT | O_APPEND, 0640);
	if (out < 0) {
		perror("syslogd: log file");
		return 1;
	}
	for (;;) {
		ssize_t n = recv(sock, msg, sizeof(msg) - 1, 0);
		const char *body = msg;
		unsigned pri = 13; /* user.notice, as for a message without a prefix */
		int len;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("syslogd: recv");
			return 1;
		}
		while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\0'))
			n--;
		msg[n] = '\0';
		if (msg[0] == '<') {
			char *end = strchr(msg, '>');
			unsigned v;

			if (end && sscanf(msg + 1, "%u", &v) == 1 && v < 192) {
				pri = v;
				body = end + 1;
			}
		}
		len = snprintf(line, sizeof(line), "%s.%s %s\n", facilities[pri >> 3],
			       severities[pri & 7], body);
		if (len > (int)sizeof(line) - 1)
			len = sizeof(line) - 1;
		if (write(out, line, len) < 0)
			perror("syslogd: write");
	}
}
