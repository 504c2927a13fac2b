package dev.qmpx.gateway.status;

import dev.qmpx.proxy.downstream.ProxyCommands;
import dev.qmpx.proxy.policy.Role;

/**
 * How much of one guest a status page's viewer sees, from the role the policy gives the viewer
 * there: nothing unless the role receives events; the run state, events and how many clients
 * (their session names only); the clients' details (pid, uid, gid, listener, role, commands) only
 * with a role that may ask for them over QMP ({@code __dev.qmpx_clients}).
 */
public enum Sight {
    NONE, STATE, DETAILS;

    public static Sight of(Role role) {
        if (!role.events()) {
            return NONE;
        }
        return role.allows(ProxyCommands.CLIENTS) ? DETAILS : STATE;
    }
}
