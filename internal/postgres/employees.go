package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/comagicd/comagicd/internal/comagic"
)

// Employees stores employees (operators), their groups, sites and login
// tokens (SPEC §1). Sites and groups given to an employee always belong to the
// employee's account.
type Employees struct {
	db *pgxpool.Pool
}

// NewEmployees returns the employee store on db.
func NewEmployees(db *pgxpool.Pool) *Employees {
	return &Employees{db: db}
}

// empDB is what the statements of this file run on: the pool or a transaction.
type empDB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// EmployeeInput is a new employee.
type EmployeeInput struct {
	// Account is the account's name; the account is created when missing.
	Account  string
	Login    string
	Name     string
	Position string
	Avatar   string
	// PasswordHash is the encoded password hash; "" means the employee
	// cannot log in.
	PasswordHash string
	// MaxChats, CanChat, CanInvite and HandlesOffline take the schema's
	// defaults (5, true, true, true) when nil.
	MaxChats       *int
	CanChat        *bool
	CanInvite      *bool
	HandlesOffline *bool
	// Sites are site keys and Groups group names of the account.
	Sites  []string
	Groups []string
}

// EmployeeUpdate changes the fields that are set (not nil).
type EmployeeUpdate struct {
	Name     *string
	Position *string
	Avatar   *string
	// PasswordHash replaces the password; every token of the employee is
	// revoked with it.
	PasswordHash   *string
	MaxChats       *int
	CanChat        *bool
	CanInvite      *bool
	HandlesOffline *bool
	// Sites (site keys) and Groups (group names) replace the employee's sites
	// and groups; a pointer to an empty list removes them all.
	Sites  *[]string
	Groups *[]string
}

var employeeLoginPattern = regexp.MustCompile(`^[A-Za-z0-9._@+-]{1,100}$`)

// ValidLogin reports whether login has the shape of an employee login:
// 1..100 characters among ASCII letters, digits and . _ @ + -.
func ValidLogin(login string) bool { return employeeLoginPattern.MatchString(login) }

// checkEmployeeText returns EINVALID unless s is valid UTF-8 of at most max characters
// without control characters.
func checkEmployeeText(field, s string, max int) error {
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return comagic.Invalid(field, "%s must be text without control characters", field)
	}
	if utf8.RuneCountInString(s) > max {
		return comagic.Invalid(field, "%s is longer than %d characters", field, max)
	}
	return nil
}

func checkEmployeeName(name string) error {
	if name == "" {
		return comagic.Invalid("name", "name is required")
	}
	return checkEmployeeText("name", name, 200)
}

// checkEmployeeAvatar accepts "" or an absolute http(s) URL: the avatar ends up as an
// image source in the visitor's page.
func checkEmployeeAvatar(avatar string) error {
	if avatar == "" {
		return nil
	}
	if err := checkEmployeeText("avatar", avatar, 2000); err != nil {
		return err
	}
	u, err := url.Parse(avatar)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return comagic.Invalid("avatar", "avatar must be an http or https URL")
	}
	return nil
}

func checkMaxChats(n int) error {
	if n < 0 || n > 100 {
		return comagic.Invalid("max_chats", "max_chats must be between 0 and 100")
	}
	return nil
}

const employeeColumns = `e.id, e.account_id, a.name, e.login, e.name, e.position, e.avatar, e.status, e.status_at,
	e.max_chats, e.can_chat, e.can_invite, e.handles_offline, e.disabled_at, e.created_at,
	ARRAY(SELECT s.id FROM employee_sites es JOIN sites s ON s.id = es.site_id
	      WHERE es.employee_id = e.id AND s.account_id = e.account_id ORDER BY s.id),
	ARRAY(SELECT s.site_key FROM employee_sites es JOIN sites s ON s.id = es.site_id
	      WHERE es.employee_id = e.id AND s.account_id = e.account_id ORDER BY s.id),
	ARRAY(SELECT g.id FROM employee_group_members m JOIN employee_groups g ON g.id = m.group_id
	      WHERE m.employee_id = e.id AND g.account_id = e.account_id ORDER BY g.id),
	ARRAY(SELECT g.name FROM employee_group_members m JOIN employee_groups g ON g.id = m.group_id
	      WHERE m.employee_id = e.id AND g.account_id = e.account_id ORDER BY g.id)`

// employeeFrom is the FROM clause that goes with employeeColumns.
const employeeFrom = ` FROM employees e JOIN accounts a ON a.id = e.account_id`

func scanEmployee(row pgx.Row) (*comagic.Employee, error) {
	var e comagic.Employee
	err := row.Scan(&e.ID, &e.AccountID, &e.Account, &e.Login, &e.Name, &e.Position, &e.Avatar, &e.Status, &e.StatusAt,
		&e.MaxChats, &e.CanChat, &e.CanInvite, &e.HandlesOffline, &e.DisabledAt, &e.CreatedAt,
		&e.SiteIDs, &e.SiteKeys, &e.GroupIDs, &e.GroupNames)
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// ensureAccountTx returns the id of the account with the name, creating it when
// missing.
func ensureAccountTx(ctx context.Context, db empDB, name string) (int64, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return 0, comagic.Invalid("account", "account name is required")
	}
	if err := checkEmployeeText("account", name, 200); err != nil {
		return 0, err
	}
	var id int64
	err := db.QueryRow(ctx, `INSERT INTO accounts (name) VALUES ($1)
	                         ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id`, name).Scan(&id)
	return id, err
}

// AccountByName returns the account with the name. Returns ENOTFOUND.
func (s *Employees) AccountByName(ctx context.Context, name string) (*comagic.Account, error) {
	name = strings.TrimSpace(name)
	if !utf8.ValidString(name) {
		return nil, comagic.Errorf(comagic.ENOTFOUND, "account %q not found", name)
	}
	var a comagic.Account
	err := s.db.QueryRow(ctx, `SELECT id, name, created_at FROM accounts WHERE name = $1`, name).Scan(&a.ID, &a.Name, &a.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, comagic.Errorf(comagic.ENOTFOUND, "account %q not found", name)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: account by name: %w", err)
	}
	return &a, nil
}

// CreateEmployee creates an employee of the account named in the input (the
// account is created when missing) with its sites and groups, which must be
// the account's. Returns EINVALID (field login, name, position, avatar,
// max_chats, site, group) and ECONFLICT (field login) for a login in use.
func (s *Employees) CreateEmployee(ctx context.Context, in EmployeeInput) (*comagic.Employee, error) {
	in.Name = strings.TrimSpace(in.Name)
	in.Position = strings.TrimSpace(in.Position)
	in.Avatar = strings.TrimSpace(in.Avatar)
	if !ValidLogin(in.Login) {
		return nil, comagic.Invalid("login", "login must be 1..100 characters among letters, digits and . _ @ + -")
	}
	if err := checkEmployeeName(in.Name); err != nil {
		return nil, err
	}
	if err := checkEmployeeText("position", in.Position, 200); err != nil {
		return nil, err
	}
	if err := checkEmployeeAvatar(in.Avatar); err != nil {
		return nil, err
	}
	if in.MaxChats != nil {
		if err := checkMaxChats(*in.MaxChats); err != nil {
			return nil, err
		}
	}
	var id int64
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		accountID, err := ensureAccountTx(ctx, tx, in.Account)
		if err != nil {
			return err
		}
		const q = `INSERT INTO employees (account_id, login, name, position, avatar, password_hash,
		                                  max_chats, can_chat, can_invite, handles_offline)
		           VALUES ($1, $2, $3, $4, $5, $6, COALESCE($7, 5), COALESCE($8, true), COALESCE($9, true), COALESCE($10, true))
		           RETURNING id`
		err = tx.QueryRow(ctx, q, accountID, in.Login, in.Name, in.Position, in.Avatar, in.PasswordHash,
			in.MaxChats, in.CanChat, in.CanInvite, in.HandlesOffline).Scan(&id)
		if isEmployeeUniqueViolation(err) {
			return &comagic.Error{Code: comagic.ECONFLICT, Field: "login", Message: fmt.Sprintf("login %q is taken", in.Login)}
		}
		if err != nil {
			return err
		}
		if err := setEmployeeSites(ctx, tx, accountID, id, in.Sites); err != nil {
			return err
		}
		return setEmployeeGroups(ctx, tx, accountID, id, in.Groups)
	})
	if err != nil {
		return nil, wrapEmployeeErr("create employee", err)
	}
	return s.EmployeeByID(ctx, id)
}

// wrapEmployeeErr prefixes database errors; application errors stay as they
// are (they are matched with errors.As either way).
func wrapEmployeeErr(op string, err error) error {
	var e *comagic.Error
	if errors.As(err, &e) {
		return e
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

func isEmployeeUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// dedupeNames returns the non-empty, trimmed, distinct values of list in order.
func dedupeNames(list []string) []string {
	out := make([]string, 0, len(list))
	for _, v := range list {
		v = strings.TrimSpace(v)
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// setEmployeeSites replaces the sites of the employee by the sites of the
// account with the keys. Returns EINVALID (field site) for a key that is not a
// site of the account.
func setEmployeeSites(ctx context.Context, db empDB, accountID, employeeID int64, keys []string) error {
	keys = dedupeNames(keys)
	ids := make([]int64, 0, len(keys))
	if len(keys) > 0 {
		for _, k := range keys {
			if !validSiteKey(k) {
				return comagic.Invalid("site", "no site %q in the employee's account", k)
			}
		}
		rows, err := db.Query(ctx, `SELECT id, site_key FROM sites WHERE account_id = $1 AND site_key = ANY($2)`, accountID, keys)
		if err != nil {
			return err
		}
		found := map[string]int64{}
		for rows.Next() {
			var id int64
			var key string
			if err := rows.Scan(&id, &key); err != nil {
				rows.Close()
				return err
			}
			found[key] = id
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, k := range keys {
			id, ok := found[k]
			if !ok {
				return comagic.Invalid("site", "no site %q in the employee's account", k)
			}
			ids = append(ids, id)
		}
	}
	if _, err := db.Exec(ctx, `DELETE FROM employee_sites WHERE employee_id = $1`, employeeID); err != nil {
		return err
	}
	// The account is checked again in the insert: only the account's sites.
	_, err := db.Exec(ctx, `INSERT INTO employee_sites (employee_id, site_id)
	                        SELECT $1, s.id FROM sites s WHERE s.id = ANY($2) AND s.account_id = $3`, employeeID, ids, accountID)
	return err
}

// setEmployeeGroups replaces the groups of the employee by the groups of the
// account with the names. Returns EINVALID (field group) for a name that is not
// a group of the account.
func setEmployeeGroups(ctx context.Context, db empDB, accountID, employeeID int64, names []string) error {
	names = dedupeNames(names)
	ids := make([]int64, 0, len(names))
	if len(names) > 0 {
		for _, n := range names {
			if !utf8.ValidString(n) {
				return comagic.Invalid("group", "no group %q in the employee's account", n)
			}
		}
		rows, err := db.Query(ctx, `SELECT id, name FROM employee_groups WHERE account_id = $1 AND name = ANY($2)`, accountID, names)
		if err != nil {
			return err
		}
		found := map[string]int64{}
		for rows.Next() {
			var id int64
			var name string
			if err := rows.Scan(&id, &name); err != nil {
				rows.Close()
				return err
			}
			found[name] = id
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, n := range names {
			id, ok := found[n]
			if !ok {
				return comagic.Invalid("group", "no group %q in the employee's account", n)
			}
			ids = append(ids, id)
		}
	}
	if _, err := db.Exec(ctx, `DELETE FROM employee_group_members WHERE employee_id = $1`, employeeID); err != nil {
		return err
	}
	_, err := db.Exec(ctx, `INSERT INTO employee_group_members (group_id, employee_id)
	                        SELECT g.id, $1 FROM employee_groups g WHERE g.id = ANY($2) AND g.account_id = $3`, employeeID, ids, accountID)
	return err
}

// EmployeeByID returns the employee, disabled or not. Returns ENOTFOUND.
func (s *Employees) EmployeeByID(ctx context.Context, id int64) (*comagic.Employee, error) {
	e, err := scanEmployee(s.db.QueryRow(ctx, `SELECT `+employeeColumns+employeeFrom+` WHERE e.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, comagic.Errorf(comagic.ENOTFOUND, "employee %d not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: employee by id: %w", err)
	}
	return e, nil
}

// EmployeeByLogin returns the employee with the login, disabled or not.
// Returns ENOTFOUND.
func (s *Employees) EmployeeByLogin(ctx context.Context, login string) (*comagic.Employee, error) {
	if !ValidLogin(login) {
		return nil, comagic.Errorf(comagic.ENOTFOUND, "employee %q not found", login)
	}
	e, err := scanEmployee(s.db.QueryRow(ctx, `SELECT `+employeeColumns+employeeFrom+` WHERE e.login = $1`, login))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, comagic.Errorf(comagic.ENOTFOUND, "employee %q not found", login)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: employee by login: %w", err)
	}
	return e, nil
}

// ListEmployees returns the employees of the account (every account's when
// accountID is 0), disabled ones included, by id.
func (s *Employees) ListEmployees(ctx context.Context, accountID int64) ([]*comagic.Employee, error) {
	rows, err := s.db.Query(ctx, `SELECT `+employeeColumns+employeeFrom+` WHERE ($1::bigint = 0 OR e.account_id = $1) ORDER BY e.id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("postgres: list employees: %w", err)
	}
	defer rows.Close()
	var out []*comagic.Employee
	for rows.Next() {
		e, err := scanEmployee(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list employees: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list employees: %w", err)
	}
	return out, nil
}

// UpdateEmployee changes the fields of the update that are set. Sites and
// groups must be the employee's account's. A new password revokes the
// employee's tokens. Returns ENOTFOUND and EINVALID (field name, position,
// avatar, max_chats, site, group).
func (s *Employees) UpdateEmployee(ctx context.Context, id int64, u EmployeeUpdate) (*comagic.Employee, error) {
	if u.Name != nil {
		n := strings.TrimSpace(*u.Name)
		if err := checkEmployeeName(n); err != nil {
			return nil, err
		}
		u.Name = &n
	}
	if u.Position != nil {
		p := strings.TrimSpace(*u.Position)
		if err := checkEmployeeText("position", p, 200); err != nil {
			return nil, err
		}
		u.Position = &p
	}
	if u.Avatar != nil {
		a := strings.TrimSpace(*u.Avatar)
		if err := checkEmployeeAvatar(a); err != nil {
			return nil, err
		}
		u.Avatar = &a
	}
	if u.MaxChats != nil {
		if err := checkMaxChats(*u.MaxChats); err != nil {
			return nil, err
		}
	}
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		var accountID int64
		err := tx.QueryRow(ctx, `SELECT account_id FROM employees WHERE id = $1 FOR UPDATE`, id).Scan(&accountID)
		if errors.Is(err, pgx.ErrNoRows) {
			return comagic.Errorf(comagic.ENOTFOUND, "employee %d not found", id)
		}
		if err != nil {
			return err
		}
		const q = `UPDATE employees SET
		             name = COALESCE($2, name),
		             position = COALESCE($3, position),
		             avatar = COALESCE($4, avatar),
		             password_hash = COALESCE($5, password_hash),
		             max_chats = COALESCE($6, max_chats),
		             can_chat = COALESCE($7, can_chat),
		             can_invite = COALESCE($8, can_invite),
		             handles_offline = COALESCE($9, handles_offline)
		           WHERE id = $1 AND account_id = $10`
		if _, err := tx.Exec(ctx, q, id, u.Name, u.Position, u.Avatar, u.PasswordHash, u.MaxChats,
			u.CanChat, u.CanInvite, u.HandlesOffline, accountID); err != nil {
			return err
		}
		if u.PasswordHash != nil {
			if err := revokeEmployeeTokens(ctx, tx, id); err != nil {
				return err
			}
		}
		if u.Sites != nil {
			if err := setEmployeeSites(ctx, tx, accountID, id, *u.Sites); err != nil {
				return err
			}
		}
		if u.Groups != nil {
			if err := setEmployeeGroups(ctx, tx, accountID, id, *u.Groups); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrapEmployeeErr("update employee", err)
	}
	return s.EmployeeByID(ctx, id)
}

// SetEmployeeSites replaces the employee's sites by the account's sites with
// the keys. Returns ENOTFOUND, EINVALID (field site).
func (s *Employees) SetEmployeeSites(ctx context.Context, id int64, keys []string) (*comagic.Employee, error) {
	return s.UpdateEmployee(ctx, id, EmployeeUpdate{Sites: &keys})
}

// SetEmployeeGroups replaces the employee's groups by the account's groups
// with the names. Returns ENOTFOUND, EINVALID (field group).
func (s *Employees) SetEmployeeGroups(ctx context.Context, id int64, names []string) (*comagic.Employee, error) {
	return s.UpdateEmployee(ctx, id, EmployeeUpdate{Groups: &names})
}

func revokeEmployeeTokens(ctx context.Context, db empDB, employeeID int64) error {
	_, err := db.Exec(ctx, `UPDATE operator_tokens SET revoked_at = now() WHERE employee_id = $1 AND revoked_at IS NULL`, employeeID)
	return err
}

// DisableEmployee disables the employee: they go offline, cannot log in, and
// every token of theirs is revoked. Disabling twice keeps the first time.
// Returns ENOTFOUND.
func (s *Employees) DisableEmployee(ctx context.Context, id int64) (*comagic.Employee, error) {
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE employees SET disabled_at = COALESCE(disabled_at, now()),
		                                status = 'offline', status_at = CASE WHEN status = 'offline' THEN status_at ELSE now() END
		                          WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return comagic.Errorf(comagic.ENOTFOUND, "employee %d not found", id)
		}
		return revokeEmployeeTokens(ctx, tx, id)
	})
	if err != nil {
		return nil, wrapEmployeeErr("disable employee", err)
	}
	return s.EmployeeByID(ctx, id)
}

// SetStatus sets the status (online, away or offline) of an employee who is
// not disabled, stamping status_at. Returns EINVALID (field status) and
// ENOTFOUND.
func (s *Employees) SetStatus(ctx context.Context, id int64, status string) error {
	if !comagic.ValidStatus(status) {
		return comagic.Invalid("status", "status must be online, away or offline")
	}
	tag, err := s.db.Exec(ctx, `UPDATE employees SET status = $2, status_at = now() WHERE id = $1 AND disabled_at IS NULL`, id, status)
	if err != nil {
		return fmt.Errorf("postgres: set status: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return comagic.Errorf(comagic.ENOTFOUND, "employee %d not found", id)
	}
	return nil
}

// CreateGroup creates a group of the account with the name (the account is
// created when missing). Returns EINVALID (field account, name) and ECONFLICT
// (field name) when the account has a group of that name.
func (s *Employees) CreateGroup(ctx context.Context, account, name string) (*comagic.Group, error) {
	name = strings.TrimSpace(name)
	if err := checkEmployeeName(name); err != nil {
		return nil, err
	}
	var g comagic.Group
	err := pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		accountID, err := ensureAccountTx(ctx, tx, account)
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `INSERT INTO employee_groups (account_id, name) VALUES ($1, $2)
		                        RETURNING id, account_id, (SELECT name FROM accounts WHERE id = $1), name, created_at`,
			accountID, name).Scan(&g.ID, &g.AccountID, &g.Account, &g.Name, &g.CreatedAt)
		if isEmployeeUniqueViolation(err) {
			return &comagic.Error{Code: comagic.ECONFLICT, Field: "name", Message: fmt.Sprintf("the account has a group %q already", name)}
		}
		return err
	})
	if err != nil {
		return nil, wrapEmployeeErr("create group", err)
	}
	return &g, nil
}

// ListGroups returns the groups of the account (every account's when
// accountID is 0) with their number of members, by id.
func (s *Employees) ListGroups(ctx context.Context, accountID int64) ([]*comagic.Group, error) {
	const q = `SELECT g.id, g.account_id, a.name, g.name, g.created_at,
	                  (SELECT count(*) FROM employee_group_members m JOIN employees e ON e.id = m.employee_id
	                   WHERE m.group_id = g.id AND e.account_id = g.account_id)
	           FROM employee_groups g JOIN accounts a ON a.id = g.account_id
	           WHERE ($1::bigint = 0 OR g.account_id = $1) ORDER BY g.id`
	rows, err := s.db.Query(ctx, q, accountID)
	if err != nil {
		return nil, fmt.Errorf("postgres: list groups: %w", err)
	}
	defer rows.Close()
	var out []*comagic.Group
	for rows.Next() {
		var g comagic.Group
		if err := rows.Scan(&g.ID, &g.AccountID, &g.Account, &g.Name, &g.CreatedAt, &g.Members); err != nil {
			return nil, fmt.Errorf("postgres: list groups: %w", err)
		}
		out = append(out, &g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list groups: %w", err)
	}
	return out, nil
}

// PasswordHash returns the id and the encoded password hash of the employee
// with the login, for a login check; the hash is "" when the employee has no
// password. Returns ENOTFOUND for an unknown login and a disabled employee.
func (s *Employees) PasswordHash(ctx context.Context, login string) (int64, string, error) {
	if !ValidLogin(login) {
		return 0, "", comagic.Errorf(comagic.ENOTFOUND, "employee not found")
	}
	var id int64
	var hash string
	err := s.db.QueryRow(ctx, `SELECT id, password_hash FROM employees WHERE login = $1 AND disabled_at IS NULL`, login).Scan(&id, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", comagic.Errorf(comagic.ENOTFOUND, "employee not found")
	}
	if err != nil {
		return 0, "", fmt.Errorf("postgres: password hash: %w", err)
	}
	return id, hash, nil
}

// InsertToken stores a login token of the employee by its hash, valid until
// expiresAt. Returns ENOTFOUND when the employee does not exist or is
// disabled.
func (s *Employees) InsertToken(ctx context.Context, employeeID int64, tokenHash []byte, expiresAt time.Time) error {
	tag, err := s.db.Exec(ctx, `INSERT INTO operator_tokens (employee_id, token_hash, expires_at)
	                            SELECT id, $2, $3 FROM employees WHERE id = $1 AND disabled_at IS NULL`, employeeID, tokenHash, expiresAt)
	if err != nil {
		return fmt.Errorf("postgres: insert token: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return comagic.Errorf(comagic.ENOTFOUND, "employee %d not found", employeeID)
	}
	return nil
}

// EmployeeByToken returns the employee holding the token with the hash when
// the token is neither revoked nor expired (by the database's clock) and the
// employee is not disabled. Returns ENOTFOUND otherwise.
func (s *Employees) EmployeeByToken(ctx context.Context, tokenHash []byte) (*comagic.Employee, error) {
	const q = `SELECT ` + employeeColumns + `
	           FROM operator_tokens t JOIN employees e ON e.id = t.employee_id JOIN accounts a ON a.id = e.account_id
	           WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now() AND e.disabled_at IS NULL`
	e, err := scanEmployee(s.db.QueryRow(ctx, q, tokenHash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, comagic.Errorf(comagic.ENOTFOUND, "no valid token")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: employee by token: %w", err)
	}
	return e, nil
}

// RevokeToken revokes the token with the hash; an unknown or revoked token is
// not an error.
func (s *Employees) RevokeToken(ctx context.Context, tokenHash []byte) error {
	if _, err := s.db.Exec(ctx, `UPDATE operator_tokens SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL`, tokenHash); err != nil {
		return fmt.Errorf("postgres: revoke token: %w", err)
	}
	return nil
}

// DeleteTokens deletes the tokens that expired or were revoked before the
// time, and returns how many. A periodic job calls it; the rows are of no use
// after that.
func (s *Employees) DeleteTokens(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.db.Exec(ctx, `DELETE FROM operator_tokens WHERE expires_at < $1 OR revoked_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("postgres: delete tokens: %w", err)
	}
	return tag.RowsAffected(), nil
}
