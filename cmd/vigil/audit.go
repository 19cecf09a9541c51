package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/vigil-soc/vigil/internal/account"
	"github.com/vigil-soc/vigil/internal/store"
)

// auditCLI records a change made with the command line as done by "cli",
// under the same action names as the account service uses. A failure is
// reported but does not undo the change, which is made. detail must hold
// no secret.
func auditCLI(ctx context.Context, db *store.DB, action, target string, detail map[string]any, stderr io.Writer) {
	err := db.RecordAudit(ctx, store.AuditEntry{At: time.Now(), Actor: cliActor, Action: action, Target: target, Detail: detail})
	if err != nil {
		fmt.Fprintln(stderr, "vigil: warning: the audit log did not record this:", err)
	}
}

// auditTokenCreated records `vigil token create`; the secret stays out.
func auditTokenCreated(ctx context.Context, db *store.DB, t store.Token, stderr io.Writer) {
	auditCLI(ctx, db, account.AuditTokenCreated, fmt.Sprintf("token:%d", t.ID),
		map[string]any{"token_id": t.ID, "token_name": t.Name, "role": t.Role}, stderr)
}

// auditUserAdded records `vigil user add`; the password stays out.
func auditUserAdded(ctx context.Context, db *store.DB, u store.User, stderr io.Writer) {
	auditCLI(ctx, db, account.AuditUserAdded, u.Email, map[string]any{"user_id": u.ID, "role": u.Role}, stderr)
}
