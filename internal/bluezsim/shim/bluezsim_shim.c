/*
 * bluezsim LD_PRELOAD shim: turns the Bluetooth sockets of unmodified BlueZ tools into
 * AF_UNIX SOCK_SEQPACKET sockets connected to simulated peers (package bluezsim).
 *
 * Written for gogatt from the Linux socket ABI (the kernel Bluetooth header layouts) and the
 * behaviour described in docs bluez-tools-facts.md Appendix A; no BlueZ code is included.
 *
 *   L2CAP (socket(31, SOCK_SEQPACKET, 0)): connect() goes to $GOGATT_BLUEZSIM_DIR/le-<ADDR>;
 *     a control message HELLO carries source/destination/security; the peer answers with a
 *     CONNECT control message (errno, mtu) that the shim consumes. Later setsockopt(BT_SECURITY)
 *     calls are forwarded in-band as SECURITY control messages. Every other message is one ATT PDU.
 *   HCI raw (socket(31, SOCK_RAW, 1)): HCIGETDEVLIST/HCIGETDEVINFO answered from
 *     $GOGATT_BLUEZSIM_DIR/hci-devices; bind() connects to $GOGATT_BLUEZSIM_DIR/hci<N>;
 *     HCI_FILTER is stored and forwarded in-band as a FILTER control message.
 *
 * Control messages start with 0xFF "BZSIM" and a type byte; no ATT opcode or HCI packet type
 * the tools send starts with them.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BZ_AF_BLUETOOTH 31
#define BZ_BTPROTO_L2CAP 0
#define BZ_BTPROTO_HCI 1
#define BZ_SOL_HCI 0
#define BZ_SOL_L2CAP 6
#define BZ_SOL_BLUETOOTH 274
#define BZ_BT_SECURITY 4
#define BZ_BT_SNDMTU 12
#define BZ_BT_RCVMTU 13
#define BZ_L2CAP_OPTIONS 1
#define BZ_L2CAP_CONNINFO 2
#define BZ_L2CAP_LM 3
#define BZ_HCI_DATA_DIR 1
#define BZ_HCI_FILTER 2
#define BZ_HCI_TIME_STAMP 3
#define BZ_HCIGETDEVLIST 0x800448d2UL
#define BZ_HCIGETDEVINFO 0x800448d3UL
#define BZ_HCI_DEV_NONE 0xffff
#define BZ_MAX_FD 65536

#define KIND_NONE 0
#define KIND_L2CAP 1
#define KIND_HCI 2

struct bz_sockaddr_l2 {
	uint16_t family;
	uint16_t psm;
	uint8_t bdaddr[6];
	uint16_t cid;
	uint8_t bdaddr_type;
};

struct bz_sockaddr_hci {
	uint16_t family;
	uint16_t dev;
	uint16_t channel;
};

struct bz_dev_req {
	uint16_t dev_id;
	uint32_t dev_opt;
};

struct bz_dev_list {
	uint16_t dev_num;
	struct bz_dev_req dev_req[];
};

struct bz_dev_info {
	uint16_t dev_id;
	char name[8]; /* "hciN" */
	uint8_t bdaddr[6];
	uint32_t flags;
	uint8_t type;
	uint8_t features[8];
	uint32_t pkt_type;
	uint32_t link_policy;
	uint32_t link_mode;
	uint16_t acl_mtu;
	uint16_t acl_pkts;
	uint16_t sco_mtu;
	uint16_t sco_pkts;
	uint32_t stat[10];
};

struct bz_l2cap_options {
	uint16_t omtu;
	uint16_t imtu;
	uint16_t flush_to;
	uint8_t mode;
	uint8_t fcs;
	uint8_t max_tx;
	uint16_t txwin_size;
};

struct fake {
	int kind;
	int connected;
	int pending_err;
	uint8_t sec_level;
	uint16_t mtu;
	struct bz_sockaddr_l2 src, dst;
	int bound;
	int hci_dev;
	uint8_t filter[16];
	int have_filter;
	int pending;   /* asynchronous connect in progress (see connect_thread) */
	int cancelled; /* closed while pending: the connect thread frees it */
};

static int (*real_socket)(int, int, int);
static int (*real_bind)(int, const struct sockaddr *, socklen_t);
static int (*real_connect)(int, const struct sockaddr *, socklen_t);
static int (*real_close)(int);
static int (*real_ioctl)(int, unsigned long, ...);
static int (*real_setsockopt)(int, int, int, const void *, socklen_t);
static int (*real_getsockopt)(int, int, int, void *, socklen_t *);
static int (*real_getsockname)(int, struct sockaddr *, socklen_t *);
static int (*real_getpeername)(int, struct sockaddr *, socklen_t *);
static int (*real_dup2)(int, int);
static int (*real_dup3)(int, int, int);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct fake *fakes[BZ_MAX_FD];

static const char magic[6] = {(char)0xff, 'B', 'Z', 'S', 'I', 'M'};

static void resolve(void)
{
	real_socket = dlsym(RTLD_NEXT, "socket");
	real_bind = dlsym(RTLD_NEXT, "bind");
	real_connect = dlsym(RTLD_NEXT, "connect");
	real_close = dlsym(RTLD_NEXT, "close");
	real_ioctl = dlsym(RTLD_NEXT, "ioctl");
	real_setsockopt = dlsym(RTLD_NEXT, "setsockopt");
	real_getsockopt = dlsym(RTLD_NEXT, "getsockopt");
	real_getsockname = dlsym(RTLD_NEXT, "getsockname");
	real_getpeername = dlsym(RTLD_NEXT, "getpeername");
	real_dup2 = dlsym(RTLD_NEXT, "dup2");
	real_dup3 = dlsym(RTLD_NEXT, "dup3");
}

static void init(void) { pthread_once(&once, resolve); }

static void logf_(const char *fmt, ...)
{
	const char *path = getenv("GOGATT_BLUEZSIM_LOG");
	char buf[512];
	va_list ap;
	int n, fd;

	if (path == NULL || *path == 0)
		return;
	n = snprintf(buf, sizeof(buf), "[%d] ", (int)getpid());
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0) {
		ssize_t w = write(fd, buf, n);
		(void)w;
		real_close(fd);
	}
}

static struct fake *get(int fd)
{
	struct fake *f = NULL;

	if (fd < 0 || fd >= BZ_MAX_FD)
		return NULL;
	pthread_mutex_lock(&mu);
	f = fakes[fd];
	pthread_mutex_unlock(&mu);
	return f;
}

/* drop_locked removes fd's entry; a pending connect's entry is left to its thread. */
static void drop_locked(int fd)
{
	struct fake *f;

	if (fd < 0 || fd >= BZ_MAX_FD)
		return;
	f = fakes[fd];
	fakes[fd] = NULL;
	if (f == NULL)
		return;
	if (f->pending)
		f->cancelled = 1;
	else
		free(f);
}

static const char *simdir(void)
{
	const char *d = getenv("GOGATT_BLUEZSIM_DIR");
	if (d == NULL || *d == 0)
		return NULL;
	return d;
}

/* bdaddr_t is little-endian on the wire: bdaddr[5] is the most significant octet. */
static void fmt_addr(char *out, const uint8_t *b)
{
	sprintf(out, "%02X:%02X:%02X:%02X:%02X:%02X", b[5], b[4], b[3], b[2], b[1], b[0]);
}

static int send_all(int fd, const void *buf, size_t len)
{
	for (;;) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			poll(&p, 1, 1000);
			continue;
		}
		return -1;
	}
}

static int send_ctl(int fd, char type, const void *payload, size_t len)
{
	unsigned char buf[64];

	if (len > sizeof(buf) - 7)
		return -1;
	memcpy(buf, magic, 6);
	buf[6] = (unsigned char)type;
	memcpy(buf + 7, payload, len);
	return send_all(fd, buf, 7 + len);
}

/* ---- hci-devices file: lines "<id> <AA:BB:CC:DD:EE:FF> <flags>" ---- */

struct devline {
	int id;
	uint8_t addr[6];
	unsigned flags;
};

static int read_devices(struct devline *out, int max)
{
	char path[4096];
	char line[256];
	const char *d = simdir();
	FILE *fp;
	int n = 0;

	if (d == NULL)
		return 0;
	snprintf(path, sizeof(path), "%s/hci-devices", d);
	fp = fopen(path, "re");
	if (fp == NULL)
		return 0;
	while (n < max && fgets(line, sizeof(line), fp)) {
		unsigned a[6], flags;
		int id;
		if (sscanf(line, "%d %x:%x:%x:%x:%x:%x %x", &id, &a[0], &a[1], &a[2], &a[3], &a[4], &a[5],
			   &flags) != 8)
			continue;
		out[n].id = id;
		for (int i = 0; i < 6; i++)
			out[n].addr[i] = (uint8_t)a[5 - i];
		out[n].flags = flags;
		n++;
	}
	fclose(fp);
	return n;
}

/* ---- socket ---- */

int socket(int domain, int type, int protocol)
{
	int base = type & 0xf, flags = type & ~0xf;
	int fd;
	struct fake *f;

	init();
	if (domain != BZ_AF_BLUETOOTH || simdir() == NULL)
		return real_socket(domain, type, protocol);
	if (!((protocol == BZ_BTPROTO_L2CAP && base == SOCK_SEQPACKET) ||
	      (protocol == BZ_BTPROTO_HCI && base == SOCK_RAW))) {
		logf_("socket(31, %d, %d): unsupported", type, protocol);
		errno = EPROTONOSUPPORT;
		return -1;
	}
	fd = real_socket(AF_UNIX, SOCK_SEQPACKET | flags, 0);
	if (fd < 0)
		return fd;
	if (fd >= BZ_MAX_FD) {
		real_close(fd);
		errno = EMFILE;
		return -1;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		real_close(fd);
		errno = ENOMEM;
		return -1;
	}
	f->kind = protocol == BZ_BTPROTO_L2CAP ? KIND_L2CAP : KIND_HCI;
	f->sec_level = 1; /* BT_SECURITY_LOW, the kernel default */
	f->mtu = 23;
	f->hci_dev = -1;
	f->src.family = BZ_AF_BLUETOOTH;
	f->dst.family = BZ_AF_BLUETOOTH;
	pthread_mutex_lock(&mu);
	drop_locked(fd);
	fakes[fd] = f;
	pthread_mutex_unlock(&mu);
	logf_("socket(31, %s) = %d", f->kind == KIND_L2CAP ? "L2CAP" : "HCI", fd);
	return fd;
}

static int connect_unix(int fd, const char *path)
{
	struct sockaddr_un un;

	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(un.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(un.sun_path, path);
	for (;;) {
		int r = real_connect(fd, (struct sockaddr *)&un, sizeof(un));
		if (r == 0 || errno != EINTR)
			return r;
	}
}

/* ---- bind ---- */

int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct fake *f;

	init();
	f = get(fd);
	if (f == NULL)
		return real_bind(fd, sa, len);
	if (f->kind == KIND_L2CAP) {
		struct bz_sockaddr_l2 a;
		memset(&a, 0, sizeof(a));
		memcpy(&a, sa, len < sizeof(a) ? len : sizeof(a));
		a.family = BZ_AF_BLUETOOTH;
		f->src = a;
		f->bound = 1;
		logf_("bind(%d, l2 psm=%u cid=%u type=%u)", fd, a.psm, a.cid, a.bdaddr_type);
		return 0;
	}
	/* HCI */
	{
		struct bz_sockaddr_hci a;
		char path[4096];
		const char *d = simdir();
		memset(&a, 0, sizeof(a));
		memcpy(&a, sa, len < sizeof(a) ? len : sizeof(a));
		logf_("bind(%d, hci dev=%u channel=%u)", fd, a.dev, a.channel);
		if (a.channel != 0) {
			errno = EINVAL;
			return -1;
		}
		if (a.dev == BZ_HCI_DEV_NONE) {
			f->bound = 1;
			return 0;
		}
		snprintf(path, sizeof(path), "%s/hci%u", d, a.dev);
		if (connect_unix(fd, path) < 0) {
			logf_("bind(%d): connect %s: %s", fd, path, strerror(errno));
			errno = ENODEV;
			return -1;
		}
		f->bound = 1;
		f->connected = 1;
		f->hci_dev = a.dev;
		if (f->have_filter)
			send_ctl(fd, 'F', f->filter, 16);
		return 0;
	}
}

/* ---- connect ---- */

static int wait_connect_reply(int fd, int32_t *err, uint16_t *mtu, int timeout_ms)
{
	unsigned char buf[64];
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long waited;
		int r;
		ssize_t n;

		clock_gettime(CLOCK_MONOTONIC, &now);
		waited = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (timeout_ms >= 0 && waited >= timeout_ms)
			return -ETIMEDOUT;
		r = poll(&p, 1, timeout_ms < 0 ? -1 : (int)(timeout_ms - waited));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -ETIMEDOUT;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return -ECONNREFUSED;
		if (n >= 13 && memcmp(buf, magic, 6) == 0 && buf[6] == 'C') {
			memcpy(err, buf + 7, 4);
			memcpy(mtu, buf + 11, 2);
			return 0;
		}
		/* Anything else before the reply is a protocol error on the peer's side. */
		return -EPROTO;
	}
}

/*
 * Asynchronous connect. The kernel's L2CAP connect on a non-blocking socket returns
 * EINPROGRESS and completes later (POLLOUT, then SO_ERROR). To let the simulated peer take its
 * time (a peripheral out of range is connected only once it advertises again), the application's
 * descriptor is first replaced by the read end of a pipe (poll reports nothing), and a thread
 * waits for the peer's CONNECT answer on a separate socket. It then puts the connected socket
 * (or, on failure, an unconnected one that polls as hung up, with the errno kept for SO_ERROR)
 * at the application's descriptor number and closes the pipe's write end, which wakes a poll()
 * sleeping on the placeholder.
 */
struct pend {
	int fd, s, pipe_w, fl, cloexec;
	struct fake *f;
};

static void *connect_thread(void *arg)
{
	struct pend *p = arg;
	int32_t perr = 0;
	uint16_t mtu = 23;
	int r = wait_connect_reply(p->s, &perr, &mtu, -1);

	if (r < 0)
		perr = -r;
	pthread_mutex_lock(&mu);
	if (p->f->cancelled) {
		free(p->f);
		logf_("connect(%d): aborted by close", p->fd);
	} else {
		int src = p->s, u = -1;
		if (perr != 0) {
			u = real_socket(AF_UNIX, SOCK_SEQPACKET, 0);
			src = u;
		}
		if (src >= 0) {
			fcntl(src, F_SETFL, p->fl);
			real_dup3(src, p->fd, p->cloexec ? O_CLOEXEC : 0);
		}
		if (u >= 0)
			real_close(u);
		p->f->pending = 0;
		p->f->pending_err = perr;
		if (perr == 0) {
			p->f->connected = 1;
			p->f->mtu = mtu ? mtu : 23;
		}
		logf_("connect(%d): %s errno=%d mtu=%u", p->fd, perr ? "failed" : "connected", perr, mtu);
	}
	pthread_mutex_unlock(&mu);
	real_close(p->s);
	real_close(p->pipe_w);
	free(p);
	return NULL;
}

static int connect_async(int fd, struct fake *f, const char *path, const unsigned char *hello)
{
	struct pend *p;
	pthread_attr_t attr;
	pthread_t th;
	int s, pp[2], r;

	s = real_socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (connect_unix(s, path) < 0) {
		r = errno;
		real_close(s);
		logf_("connect(%d): %s: %s", fd, path, strerror(r));
		return (r == ENOENT || r == ECONNREFUSED) ? -ECONNREFUSED : -r;
	}
	if (send_ctl(s, 'H', hello, 15) < 0 || pipe2(pp, O_CLOEXEC) < 0) {
		real_close(s);
		return -ECONNREFUSED;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		real_close(s);
		real_close(pp[0]);
		real_close(pp[1]);
		return -ENOMEM;
	}
	p->fd = fd;
	p->s = s;
	p->pipe_w = pp[1];
	p->fl = fcntl(fd, F_GETFL);
	p->cloexec = (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
	p->f = f;
	pthread_mutex_lock(&mu);
	real_dup3(pp[0], fd, p->cloexec ? O_CLOEXEC : 0);
	f->pending = 1;
	pthread_mutex_unlock(&mu);
	real_close(pp[0]);
	fcntl(fd, F_SETFL, p->fl);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&th, &attr, connect_thread, p);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		/* No thread: finish synchronously. */
		connect_thread(p);
	}
	return 0;
}

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct fake *f;
	struct bz_sockaddr_l2 a;
	char path[4096], addr[18];
	unsigned char hello[32];
	int32_t perr = 0;
	uint16_t mtu = 23;
	int nonblock, r;

	init();
	f = get(fd);
	if (f == NULL)
		return real_connect(fd, sa, len);
	if (f->kind != KIND_L2CAP) {
		errno = EOPNOTSUPP;
		return -1;
	}
	if (f->pending) {
		errno = EALREADY;
		return -1;
	}
	if (f->connected) {
		errno = EISCONN;
		return -1;
	}
	memset(&a, 0, sizeof(a));
	memcpy(&a, sa, len < sizeof(a) ? len : sizeof(a));
	a.family = BZ_AF_BLUETOOTH;
	f->dst = a;
	if (!f->bound) {
		f->src.cid = a.cid;
		f->src.bdaddr_type = 1;
	}
	nonblock = (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
	fmt_addr(addr, a.bdaddr);
	logf_("connect(%d, %s type=%u psm=%u cid=%u sec=%u nonblock=%d)", fd, addr, a.bdaddr_type, a.psm,
	      a.cid, f->sec_level, nonblock);

	if (a.psm != 0 || a.cid != 4) {
		perr = ECONNREFUSED; /* only the LE ATT fixed channel is simulated */
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/le-%s", simdir(), addr);
	memcpy(hello, f->src.bdaddr, 6);
	hello[6] = f->src.bdaddr_type;
	memcpy(hello + 7, a.bdaddr, 6);
	hello[13] = a.bdaddr_type;
	hello[14] = f->sec_level;
	if (nonblock) {
		r = connect_async(fd, f, path, hello);
		if (r < 0) {
			perr = -r;
			goto fail;
		}
		errno = EINPROGRESS;
		return -1;
	}
	if (connect_unix(fd, path) < 0) {
		r = errno;
		logf_("connect(%d): %s: %s", fd, path, strerror(r));
		perr = (r == ENOENT || r == ECONNREFUSED) ? ECONNREFUSED : r;
		goto fail;
	}
	if (send_ctl(fd, 'H', hello, 15) < 0) {
		perr = ECONNREFUSED;
		goto fail;
	}
	r = wait_connect_reply(fd, &perr, &mtu, -1);
	if (r < 0)
		perr = -r;
	if (perr != 0)
		goto fail;
	f->connected = 1;
	f->mtu = mtu ? mtu : 23;
	logf_("connect(%d): connected mtu=%u", fd, f->mtu);
	return 0;

fail:
	logf_("connect(%d): failed errno=%d", fd, perr);
	if (nonblock) {
		/* Like the kernel: the failure is reported later through SO_ERROR; the
		 * unconnected socket polls as hung up so the caller's watch fires. */
		f->pending_err = perr;
		errno = EINPROGRESS;
		return -1;
	}
	errno = perr;
	return -1;
}

/* ---- close / dup ---- */

int close(int fd)
{
	int r;

	init();
	if (get(fd) == NULL)
		return real_close(fd);
	/* Under the lock, so that a pending connect's thread never fills a reused number. */
	logf_("close(%d)", fd);
	pthread_mutex_lock(&mu);
	drop_locked(fd);
	r = real_close(fd);
	pthread_mutex_unlock(&mu);
	return r;
}

int dup2(int oldfd, int newfd)
{
	int r;

	init();
	if (oldfd == newfd)
		return real_dup2(oldfd, newfd);
	pthread_mutex_lock(&mu);
	drop_locked(newfd);
	r = real_dup2(oldfd, newfd);
	pthread_mutex_unlock(&mu);
	return r;
}

int dup3(int oldfd, int newfd, int flags)
{
	int r;

	init();
	pthread_mutex_lock(&mu);
	if (oldfd != newfd)
		drop_locked(newfd);
	r = real_dup3(oldfd, newfd, flags);
	pthread_mutex_unlock(&mu);
	return r;
}

/* ---- ioctl ---- */

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;
	struct fake *f;
	struct devline devs[16];
	int n;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	init();
	f = get(fd);
	if (f == NULL)
		return real_ioctl(fd, req, arg);
	if (f->kind != KIND_HCI) {
		errno = ENOTTY;
		return -1;
	}
	n = read_devices(devs, 16);
	if (req == BZ_HCIGETDEVLIST) {
		struct bz_dev_list *dl = arg;
		int max = dl->dev_num, k = 0;
		for (int i = 0; i < n && k < max; i++, k++) {
			dl->dev_req[k].dev_id = (uint16_t)devs[i].id;
			dl->dev_req[k].dev_opt = devs[i].flags;
		}
		dl->dev_num = (uint16_t)k;
		logf_("ioctl(%d, HCIGETDEVLIST) = %d devices", fd, k);
		return 0;
	}
	if (req == BZ_HCIGETDEVINFO) {
		struct bz_dev_info *di = arg;
		int id = di->dev_id;
		for (int i = 0; i < n; i++) {
			if (devs[i].id != id)
				continue;
			memset(di, 0, sizeof(*di));
			di->dev_id = (uint16_t)id;
			snprintf(di->name, sizeof(di->name), "hci%d", id & 0xffff);
			memcpy(di->bdaddr, devs[i].addr, 6);
			di->flags = devs[i].flags;
			di->type = 0x01; /* primary controller on USB */
			di->features[4] = 0x60; /* LE supported (controller), BR/EDR not supported */
			di->acl_mtu = 1021;
			di->acl_pkts = 8;
			di->sco_mtu = 64;
			di->sco_pkts = 1;
			logf_("ioctl(%d, HCIGETDEVINFO %d) ok flags=%x", fd, id, devs[i].flags);
			return 0;
		}
		logf_("ioctl(%d, HCIGETDEVINFO %d) ENODEV", fd, id);
		errno = ENODEV;
		return -1;
	}
	logf_("ioctl(%d, 0x%lx) unsupported", fd, req);
	errno = ENOTTY;
	return -1;
}

/* ---- socket options ---- */

static int put_opt(void *val, socklen_t *len, const void *src, socklen_t n)
{
	if (val == NULL || len == NULL) {
		errno = EFAULT;
		return -1;
	}
	if (*len < n)
		n = *len;
	memcpy(val, src, n);
	*len = n;
	return 0;
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	struct fake *f;

	init();
	f = get(fd);
	if (f == NULL || level == SOL_SOCKET)
		return real_setsockopt(fd, level, name, val, len);
	if (f->kind == KIND_L2CAP) {
		if (level == BZ_SOL_BLUETOOTH && name == BZ_BT_SECURITY) {
			uint8_t lvl;
			if (len < 1) {
				errno = EINVAL;
				return -1;
			}
			lvl = ((const uint8_t *)val)[0];
			if (lvl > 4) {
				errno = EINVAL;
				return -1;
			}
			f->sec_level = lvl;
			logf_("setsockopt(%d, BT_SECURITY level=%u connected=%d)", fd, lvl, f->connected);
			if (f->connected)
				send_ctl(fd, 'S', &lvl, 1);
			return 0;
		}
		if (level == BZ_SOL_BLUETOOTH || level == BZ_SOL_L2CAP) {
			logf_("setsockopt(%d, level=%d name=%d) accepted", fd, level, name);
			return 0;
		}
		errno = ENOPROTOOPT;
		return -1;
	}
	/* HCI */
	if (level == BZ_SOL_HCI && name == BZ_HCI_FILTER) {
		memset(f->filter, 0, 16);
		memcpy(f->filter, val, len < 16 ? len : 16);
		f->have_filter = 1;
		if (f->connected)
			send_ctl(fd, 'F', f->filter, 16);
		return 0;
	}
	if (level == BZ_SOL_HCI && (name == BZ_HCI_DATA_DIR || name == BZ_HCI_TIME_STAMP))
		return 0;
	errno = ENOPROTOOPT;
	return -1;
}

int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	struct fake *f;

	init();
	f = get(fd);
	if (f == NULL)
		return real_getsockopt(fd, level, name, val, len);
	if (level == SOL_SOCKET) {
		int v;
		switch (name) {
		case SO_DOMAIN:
			v = BZ_AF_BLUETOOTH;
			return put_opt(val, len, &v, sizeof(v));
		case SO_PROTOCOL:
			v = f->kind == KIND_L2CAP ? BZ_BTPROTO_L2CAP : BZ_BTPROTO_HCI;
			return put_opt(val, len, &v, sizeof(v));
		case SO_TYPE:
			v = f->kind == KIND_L2CAP ? SOCK_SEQPACKET : SOCK_RAW;
			return put_opt(val, len, &v, sizeof(v));
		case SO_ERROR:
			if (f->pending_err) {
				v = f->pending_err;
				f->pending_err = 0;
				logf_("getsockopt(%d, SO_ERROR) = %d", fd, v);
				return put_opt(val, len, &v, sizeof(v));
			}
			break;
		}
		return real_getsockopt(fd, level, name, val, len);
	}
	if (f->kind == KIND_L2CAP) {
		if (level == BZ_SOL_BLUETOOTH && name == BZ_BT_SECURITY) {
			uint8_t s[2] = {f->sec_level, f->sec_level > 1 ? 16 : 0};
			return put_opt(val, len, s, 2);
		}
		if (level == BZ_SOL_BLUETOOTH && (name == BZ_BT_SNDMTU || name == BZ_BT_RCVMTU)) {
			uint16_t m = f->mtu;
			if (!f->connected) {
				errno = ENOTCONN;
				return -1;
			}
			return put_opt(val, len, &m, sizeof(m));
		}
		if (level == BZ_SOL_L2CAP && name == BZ_L2CAP_OPTIONS) {
			struct bz_l2cap_options o = {.omtu = f->mtu, .imtu = f->mtu, .flush_to = 0xffff};
			return put_opt(val, len, &o, sizeof(o));
		}
		if (level == BZ_SOL_L2CAP && name == BZ_L2CAP_LM) {
			int v = 0;
			return put_opt(val, len, &v, sizeof(v));
		}
		logf_("getsockopt(%d, level=%d name=%d) ENOPROTOOPT", fd, level, name);
		errno = ENOPROTOOPT;
		return -1;
	}
	if (level == BZ_SOL_HCI && name == BZ_HCI_FILTER)
		return put_opt(val, len, f->filter, 16);
	if (level == BZ_SOL_HCI && (name == BZ_HCI_DATA_DIR || name == BZ_HCI_TIME_STAMP)) {
		int v = 0;
		return put_opt(val, len, &v, sizeof(v));
	}
	errno = ENOPROTOOPT;
	return -1;
}

static int put_addr(struct sockaddr *sa, socklen_t *len, const void *a, socklen_t n)
{
	if (sa == NULL || len == NULL) {
		errno = EFAULT;
		return -1;
	}
	memcpy(sa, a, *len < n ? *len : n);
	*len = n;
	return 0;
}

int getsockname(int fd, struct sockaddr *sa, socklen_t *len)
{
	struct fake *f;

	init();
	f = get(fd);
	if (f == NULL)
		return real_getsockname(fd, sa, len);
	if (f->kind == KIND_L2CAP)
		return put_addr(sa, len, &f->src, sizeof(f->src));
	{
		struct bz_sockaddr_hci h = {BZ_AF_BLUETOOTH, (uint16_t)(f->hci_dev < 0 ? BZ_HCI_DEV_NONE : f->hci_dev), 0};
		return put_addr(sa, len, &h, sizeof(h));
	}
}

int getpeername(int fd, struct sockaddr *sa, socklen_t *len)
{
	struct fake *f;

	init();
	f = get(fd);
	if (f == NULL)
		return real_getpeername(fd, sa, len);
	if (f->kind != KIND_L2CAP || !f->connected) {
		errno = ENOTCONN;
		return -1;
	}
	return put_addr(sa, len, &f->dst, sizeof(f->dst));
}
