/* route.c — which local address reaches a peer, and TCP reachability. */
#include "route.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int lp_route_split(const char *endpoint, char *host, size_t cap, int *port, lp_err *err)
{
    if (strncmp(endpoint, "tcp://", 6) != 0)
        return lp_err_set(err, "'%s' is not a tcp:// endpoint", endpoint);
    const char *h = endpoint + 6, *colon = strrchr(h, ':');
    if (!colon || colon == h)
        return lp_err_set(err, "'%s' is not tcp://HOST:PORT", endpoint);
    size_t len = (size_t)(colon - h);
    if (h[0] == '[') { /* [v6]:port */
        if (len < 3 || h[len - 1] != ']')
            return lp_err_set(err, "'%s': an IPv6 host is written [ADDRESS]", endpoint);
        h++;
        len -= 2;
    }
    if (len >= cap)
        return lp_err_set(err, "'%s': host name too long", endpoint);
    memcpy(host, h, len);
    host[len] = 0;
    const char *p = colon + 1;
    if (!strcmp(p, "*")) {
        *port = 0;
        return 0;
    }
    char *end;
    long v = strtol(p, &end, 10);
    if (!*p || *end || v < 0 || v > 65535)
        return lp_err_set(err, "'%s': port must be 0-65535", endpoint);
    *port = (int)v;
    return 0;
}

static bool host_chars(const char *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z') ||
              (h[i] >= '0' && h[i] <= '9') || strchr(".-_:", h[i])))
            return false;
    return n > 0;
}

static int parse_port(const char *p, int *port)
{
    char *end;
    long v = strtol(p, &end, 10);
    if (!*p || *end || v < 1 || v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

int lp_route_split_host(const char *s, char *host, size_t cap, int *port, lp_err *err)
{
    const char *h = s, *colon = strchr(s, ':'), *port_s = NULL;
    size_t n = strlen(s);
    if (s[0] == '[') { /* [v6] or [v6]:port */
        const char *close = strchr(s, ']');
        if (!close || (close[1] && close[1] != ':'))
            return lp_err_set(err, "'%s': an IPv6 address is written [ADDRESS] or [ADDRESS]:PORT", s);
        h = s + 1;
        n = (size_t)(close - h);
        port_s = close[1] ? close + 2 : NULL;
    } else if (colon && !strchr(colon + 1, ':')) { /* host:port */
        n = (size_t)(colon - s);
        port_s = colon + 1;
    }
    *port = 0;
    if (!host_chars(h, n) || n >= cap)
        return lp_err_set(err, "'%s' is not a host name or address", s);
    if (port_s && parse_port(port_s, port) != 0)
        return lp_err_set(err, "'%s': port must be 1-65535", s);
    memcpy(host, h, n);
    host[n] = 0;
    return 0;
}

void lp_route_join(const char *host, int port, char *out, size_t cap)
{
    bool v6 = strchr(host, ':') != NULL;
    snprintf(out, cap, "tcp://%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

bool lp_route_is_wildcard(const char *host)
{
    return !strcmp(host, "*") || !strcmp(host, "0.0.0.0") || !strcmp(host, "::");
}

bool lp_route_is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (!strcmp(host, "localhost"))
        return true;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

static int resolve(const char *host, int port, int socktype, struct addrinfo **res, lp_err *err)
{
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = socktype};
    int rc = getaddrinfo(host, service, &hints, res);
    if (rc != 0)
        return lp_err_set(err, "cannot resolve '%s': %s", host, gai_strerror(rc));
    return 0;
}

static int numeric(const struct sockaddr *sa, char *out, size_t cap, lp_err *err)
{
    const void *a = sa->sa_family == AF_INET6
                        ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                        : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
    if (!inet_ntop(sa->sa_family, a, out, (socklen_t)cap))
        return lp_err_set(err, "address does not fit %zu bytes", cap);
    return 0;
}

int lp_route_source(const char *host, char *out, size_t cap, lp_err *err)
{
    struct addrinfo *res;
    if (resolve(host, 9, SOCK_DGRAM, &res, err) != 0)
        return -1;
    int rc = lp_err_set(err, "no route from this machine to %s", host);
    for (struct addrinfo *a = res; a && rc != 0; a = a->ai_next) {
        int fd = socket(a->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_storage me;
        socklen_t len = sizeof me;
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) == 0 &&
            getsockname(fd, (struct sockaddr *)&me, &len) == 0)
            rc = numeric((struct sockaddr *)&me, out, cap, err);
        else
            lp_err_set(err, "no route from this machine to %s: %s", host, strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    freeaddrinfo(res);
    return rc;
}

bool lp_route_is_local(const char *host)
{
    struct ifaddrs *ifs;
    char a[INET6_ADDRSTRLEN];
    bool found = false;
    if (getifaddrs(&ifs) != 0)
        return false;
    for (struct ifaddrs *i = ifs; i && !found; i = i->ifa_next)
        found = i->ifa_addr &&
                (i->ifa_addr->sa_family == AF_INET || i->ifa_addr->sa_family == AF_INET6) &&
                numeric(i->ifa_addr, a, sizeof a, NULL) == 0 && !strcmp(a, host);
    freeifaddrs(ifs);
    return found;
}

/* One non-blocking connect: 0 connected, else errno (ETIMEDOUT when the
 * time ran out). */
static int try_connect(const struct addrinfo *a, int timeout_ms)
{
    int fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return errno;
    int e = connect(fd, a->ai_addr, a->ai_addrlen) == 0 ? 0 : errno;
    if (e == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        socklen_t len = sizeof e;
        if (poll(&p, 1, timeout_ms) <= 0)
            e = ETIMEDOUT;
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
            e = errno;
    }
    close(fd);
    return e;
}

int lp_route_probe(const char *endpoint, int timeout_ms, char *why, size_t cap)
{
    char host[LP_ROUTE_HOST_MAX];
    int port;
    lp_err err = {{0}};
    struct addrinfo *res;
    if (lp_route_split(endpoint, host, sizeof host, &port, &err) != 0 ||
        resolve(host, port, SOCK_STREAM, &res, &err) != 0) {
        snprintf(why, cap, "%s", err.msg);
        return -1;
    }
    int e = ENOENT;
    for (struct addrinfo *a = res; a && e != 0; a = a->ai_next)
        e = try_connect(a, timeout_ms);
    freeaddrinfo(res);
    if (e == ETIMEDOUT)
        snprintf(why, cap, "no answer within %.1f s", timeout_ms / 1000.0);
    else if (e)
        snprintf(why, cap, "%s", strerror(e));
    return e ? -1 : 0;
}
