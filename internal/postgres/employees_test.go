package postgres_test

import (
	"context"
	"crypto/sha256"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/comagicd/comagicd/internal/comagic"
	"github.com/comagicd/comagicd/internal/postgres"
	"github.com/comagicd/comagicd/internal/testenv"
)

// wantEmpErr fails the test unless err is an application error with the code
// and, when field is not "", the field.
func wantEmpErr(t *testing.T, what string, err error, code, field string) {
	t.Helper()
	if comagic.ErrorCode(err) != code || (field != "" && comagic.ErrorField(err) != field) {
		t.Fatalf("%s: got %v, want %s (field %q)", what, err, code, field)
	}
}

func empPtr[T any](v T) *T { return &v }

type tenants struct {
	db            *pgxpool.Pool
	emps          *postgres.Employees
	sites         *postgres.Sites
	accA, accB    *comagic.Account
	siteA, siteA2 *comagic.Site
	siteB         *comagic.Site
	salesA        *comagic.Group
	salesB        *comagic.Group
	supportB      *comagic.Group
}

// twoAccounts makes accounts A and B, each with sites and a group named
// Sales; only B has Support.
func twoAccounts(t *testing.T) *tenants {
	t.Helper()
	ctx := context.Background()
	db := testenv.NewDB(t)
	tn := &tenants{db: db, emps: postgres.NewEmployees(db), sites: postgres.NewSites(db)}
	var err error
	if tn.accA, err = tn.sites.EnsureAccount(ctx, "A"); err != nil {
		t.Fatal(err)
	}
	if tn.accB, err = tn.sites.EnsureAccount(ctx, "B"); err != nil {
		t.Fatal(err)
	}
	if tn.siteA, err = tn.sites.CreateSite(ctx, tn.accA.ID, []string{"a.example"}); err != nil {
		t.Fatal(err)
	}
	if tn.siteA2, err = tn.sites.CreateSite(ctx, tn.accA.ID, []string{"a2.example"}); err != nil {
		t.Fatal(err)
	}
	if tn.siteB, err = tn.sites.CreateSite(ctx, tn.accB.ID, []string{"b.example"}); err != nil {
		t.Fatal(err)
	}
	if tn.salesA, err = tn.emps.CreateGroup(ctx, "A", "Sales"); err != nil {
		t.Fatal(err)
	}
	if tn.salesB, err = tn.emps.CreateGroup(ctx, "B", "Sales"); err != nil {
		t.Fatal(err)
	}
	if tn.supportB, err = tn.emps.CreateGroup(ctx, "B", "Support"); err != nil {
		t.Fatal(err)
	}
	return tn
}

func TestEmployeeCreateAndTenancy(t *testing.T) {
	ctx := context.Background()
	tn := twoAccounts(t)
	emps := tn.emps

	e, err := emps.CreateEmployee(ctx, postgres.EmployeeInput{Account: "A", Login: "anna@a.example", Name: " Anna ", Position: "Sales",
		Avatar: "https://a.example/anna.png", PasswordHash: "h", Sites: []string{tn.siteA.Key, tn.siteA.Key}, Groups: []string{"Sales"}})
	if err != nil {
		t.Fatal(err)
	}
	if e.AccountID != tn.accA.ID || e.Account != "A" || e.Name != "Anna" || e.Position != "Sales" || e.Status != comagic.StatusOffline ||
		e.MaxChats != 5 || !e.CanChat || !e.CanInvite || !e.HandlesOffline || e.DisabledAt != nil {
		t.Fatalf("created: %+v", e)
	}
	// Same group name in both accounts: the employee gets their account's.
	if !slices.Equal(e.SiteIDs, []int64{tn.siteA.ID}) || !slices.Equal(e.SiteKeys, []string{tn.siteA.Key}) ||
		!slices.Equal(e.GroupIDs, []int64{tn.salesA.ID}) || !slices.Equal(e.GroupNames, []string{"Sales"}) {
		t.Fatalf("sites and groups: %+v", e)
	}

	// A site or group of another account is refused, naming the field, and
	// nothing is created.
	_, err = emps.CreateEmployee(ctx, postgres.EmployeeInput{Account: "A", Login: "bob", Name: "Bob", Sites: []string{tn.siteA.Key, tn.siteB.Key}})
	wantEmpErr(t, "site of B", err, comagic.EINVALID, "site")
	_, err = emps.CreateEmployee(ctx, postgres.EmployeeInput{Account: "A", Login: "bob", Name: "Bob", Groups: []string{"Support"}})
	wantEmpErr(t, "group of B", err, comagic.EINVALID, "group")
	_, err = emps.CreateEmployee(ctx, postgres.EmployeeInput{Account: "A", Login: "bob", Name: "Bob", Sites: []string{"short"}})
	wantEmpErr(t, "malformed site key", err, comagic.EINVALID, "site")
	_, err = emps.EmployeeByLogin(ctx, "bob")
	wantEmpErr(t, "refused employee stored", err, comagic.ENOTFOUND, "")

	// Input checks.
	for _, c := range []struct {
		in    postgres.EmployeeInput
		code  string
		field string
	}{
		{postgres.EmployeeInput{Account: "A", Login: "anna@a.example", Name: "Other"}, comagic.ECONFLICT, "login"},
		{postgres.EmployeeInput{Account: "A", Login: "bad login", Name: "X"}, comagic.EINVALID, "login"},
		{postgres.EmployeeInput{Account: "A", Login: "", Name: "X"}, comagic.EINVALID, "login"},
		{postgres.EmployeeInput{Account: "A", Login: "x", Name: "  "}, comagic.EINVALID, "name"},
		{postgres.EmployeeInput{Account: "A", Login: "x", Name: "X\x00"}, comagic.EINVALID, "name"},
		{postgres.EmployeeInput{Account: "A", Login: "x", Name: "X", Position: string([]byte{0xff})}, comagic.EINVALID, "position"},
		{postgres.EmployeeInput{Account: "A", Login: "x", Name: "X", Avatar: "javascript:alert(1)"}, comagic.EINVALID, "avatar"},
		{postgres.EmployeeInput{Account: "A", Login: "x", Name: "X", MaxChats: empPtr(101)}, comagic.EINVALID, "max_chats"},
		{postgres.EmployeeInput{Account: "", Login: "x", Name: "X"}, comagic.EINVALID, "account"},
	} {
		_, err := emps.CreateEmployee(ctx, c.in)
		wantEmpErr(t, c.in.Login+"/"+c.in.Name, err, c.code, c.field)
	}

	// A new account is created like sites do; flags and capacity are kept.
	c, err := emps.CreateEmployee(ctx, postgres.EmployeeInput{Account: "C", Login: "carl", Name: "Carl", MaxChats: empPtr(0), CanChat: empPtr(false), CanInvite: empPtr(false), HandlesOffline: empPtr(false)})
	if err != nil || c.Account != "C" || c.MaxChats != 0 || c.CanChat || c.CanInvite || c.HandlesOffline || len(c.SiteIDs) != 0 {
		t.Fatalf("carl: %+v %v", c, err)
	}
	accC, err := emps.AccountByName(ctx, "C")
	if err != nil || accC.ID != c.AccountID {
		t.Fatalf("account C: %+v %v", accC, err)
	}
	_, err = emps.AccountByName(ctx, "nobody")
	wantEmpErr(t, "unknown account", err, comagic.ENOTFOUND, "")

	// Lists are per account, or all.
	if _, err := emps.CreateEmployee(ctx, postgres.EmployeeInput{Account: "B", Login: "bella", Name: "Bella", Sites: []string{tn.siteB.Key}, Groups: []string{"Sales", "Support"}}); err != nil {
		t.Fatal(err)
	}
	listA, err := emps.ListEmployees(ctx, tn.accA.ID)
	if err != nil || len(listA) != 1 || listA[0].Login != "anna@a.example" {
		t.Fatalf("list A: %v %v", listA, err)
	}
	all, err := emps.ListEmployees(ctx, 0)
	if err != nil || len(all) != 3 {
		t.Fatalf("list all: %v %v", all, err)
	}
	groupsB, err := emps.ListGroups(ctx, tn.accB.ID)
	if err != nil || len(groupsB) != 2 || groupsB[0].Name != "Sales" || groupsB[0].Members != 1 || groupsB[1].Members != 1 || groupsB[0].Account != "B" {
		t.Fatalf("groups of B: %+v %v", groupsB, err)
	}
	allGroups, err := emps.ListGroups(ctx, 0)
	if err != nil || len(allGroups) != 3 {
		t.Fatalf("all groups: %v %v", allGroups, err)
	}
	_, err = emps.CreateGroup(ctx, "A", "Sales")
	wantEmpErr(t, "duplicate group", err, comagic.ECONFLICT, "name")
	_, err = emps.CreateGroup(ctx, "A", "")
	wantEmpErr(t, "unnamed group", err, comagic.EINVALID, "name")

	// Rows written behind the store's back that cross accounts are never
	// reported: reads are scoped by the employee's account too.
	if _, err := tn.db.Exec(ctx, `INSERT INTO employee_sites (employee_id, site_id) VALUES ($1, $2)`, e.ID, tn.siteB.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := tn.db.Exec(ctx, `INSERT INTO employee_group_members (group_id, employee_id) VALUES ($1, $2)`, tn.supportB.ID, e.ID); err != nil {
		t.Fatal(err)
	}
	again, err := emps.EmployeeByID(ctx, e.ID)
	if err != nil || !slices.Equal(again.SiteIDs, []int64{tn.siteA.ID}) || !slices.Equal(again.GroupIDs, []int64{tn.salesA.ID}) {
		t.Fatalf("cross-account rows reported: %+v %v", again, err)
	}
	if groupsB, _ := emps.ListGroups(ctx, tn.accB.ID); groupsB[1].Members != 1 {
		t.Fatalf("Support of B counts a member of A: %+v", groupsB[1])
	}
	if _, err := emps.EmployeeByID(ctx, 1<<40); comagic.ErrorCode(err) != comagic.ENOTFOUND {
		t.Fatalf("unknown id: %v", err)
	}
	if _, err := emps.EmployeeByLogin(ctx, "bad login"); comagic.ErrorCode(err) != comagic.ENOTFOUND {
		t.Fatalf("malformed login: %v", err)
	}
}

func TestEmployeeUpdate(t *testing.T) {
	ctx := context.Background()
	tn := twoAccounts(t)
	emps := tn.emps
	e, err := emps.CreateEmployee(ctx, postgres.EmployeeInput{Account: "A", Login: "anna", Name: "Anna", PasswordHash: "old",
		Sites: []string{tn.siteA.Key}, Groups: []string{"Sales"}})
	if err != nil {
		t.Fatal(err)
	}

	u, err := emps.UpdateEmployee(ctx, e.ID, postgres.EmployeeUpdate{Name: empPtr("Anna K."), Position: empPtr("Head"), Avatar: empPtr("http://a.example/a.png"),
		MaxChats: empPtr(9), CanChat: empPtr(false), CanInvite: empPtr(false), HandlesOffline: empPtr(false), Sites: &[]string{tn.siteA2.Key, tn.siteA.Key}})
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "Anna K." || u.Position != "Head" || u.Avatar != "http://a.example/a.png" || u.MaxChats != 9 || u.CanChat || u.CanInvite || u.HandlesOffline ||
		!slices.Equal(u.SiteIDs, []int64{tn.siteA.ID, tn.siteA2.ID}) || !slices.Equal(u.GroupIDs, []int64{tn.salesA.ID}) {
		t.Fatalf("updated: %+v", u)
	}
	// Unset fields are kept.
	u, err = emps.UpdateEmployee(ctx, e.ID, postgres.EmployeeUpdate{Position: empPtr("")})
	if err != nil || u.Name != "Anna K." || u.Position != "" || u.MaxChats != 9 || len(u.SiteIDs) != 2 {
		t.Fatalf("partial update: %+v %v", u, err)
	}

	// Another account's site or group is refused and changes nothing.
	_, err = emps.UpdateEmployee(ctx, e.ID, postgres.EmployeeUpdate{Name: empPtr("Mallory"), Sites: &[]string{tn.siteB.Key}})
	wantEmpErr(t, "site of B", err, comagic.EINVALID, "site")
	_, err = emps.SetEmployeeSites(ctx, e.ID, []string{tn.siteA.Key, tn.siteB.Key})
	wantEmpErr(t, "site of B", err, comagic.EINVALID, "site")
	_, err = emps.SetEmployeeGroups(ctx, e.ID, []string{"Support"})
	wantEmpErr(t, "group of B", err, comagic.EINVALID, "group")
	u, err = emps.EmployeeByID(ctx, e.ID)
	if err != nil || u.Name != "Anna K." || len(u.SiteIDs) != 2 || !slices.Equal(u.GroupIDs, []int64{tn.salesA.ID}) {
		t.Fatalf("after refused updates: %+v %v", u, err)
	}

	// Replacing with empty lists removes them all.
	if u, err = emps.SetEmployeeSites(ctx, e.ID, nil); err != nil || len(u.SiteIDs) != 0 {
		t.Fatalf("clear sites: %+v %v", u, err)
	}
	if u, err = emps.SetEmployeeGroups(ctx, e.ID, []string{}); err != nil || len(u.GroupIDs) != 0 {
		t.Fatalf("clear groups: %+v %v", u, err)
	}

	for what, upd := range map[string]postgres.EmployeeUpdate{
		"name":      {Name: empPtr("")},
		"avatar":    {Avatar: empPtr("data:image/png;base64,AAAA")},
		"max_chats": {MaxChats: empPtr(-1)},
		"position":  {Position: empPtr(strings.Repeat("я", 201))},
	} {
		_, err := emps.UpdateEmployee(ctx, e.ID, upd)
		wantEmpErr(t, what, err, comagic.EINVALID, what)
	}
	_, err = emps.UpdateEmployee(ctx, 1<<40, postgres.EmployeeUpdate{Name: empPtr("X")})
	wantEmpErr(t, "unknown employee", err, comagic.ENOTFOUND, "")

	// A new password revokes the tokens.
	hash := sha256.Sum256([]byte("token"))
	if err := emps.InsertToken(ctx, e.ID, hash[:], time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := emps.EmployeeByToken(ctx, hash[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := emps.UpdateEmployee(ctx, e.ID, postgres.EmployeeUpdate{PasswordHash: empPtr("new")}); err != nil {
		t.Fatal(err)
	}
	_, err = emps.EmployeeByToken(ctx, hash[:])
	wantEmpErr(t, "token after password change", err, comagic.ENOTFOUND, "")
	if id, h, err := emps.PasswordHash(ctx, "anna"); err != nil || id != e.ID || h != "new" {
		t.Fatalf("password hash: %d %q %v", id, h, err)
	}
}

func TestEmployeeStatusDisableAndTokens(t *testing.T) {
	ctx := context.Background()
	tn := twoAccounts(t)
	emps := tn.emps
	e, err := emps.CreateEmployee(ctx, postgres.EmployeeInput{Account: "A", Login: "anna", Name: "Anna", PasswordHash: "h", Sites: []string{tn.siteA.Key}})
	if err != nil {
		t.Fatal(err)
	}

	// Status.
	if err := emps.SetStatus(ctx, e.ID, "online"); err != nil {
		t.Fatal(err)
	}
	on, _ := emps.EmployeeByID(ctx, e.ID)
	if on.Status != "online" || !on.StatusAt.After(e.StatusAt) {
		t.Fatalf("status: %s at %v (was %v)", on.Status, on.StatusAt, e.StatusAt)
	}
	wantEmpErr(t, "bad status", emps.SetStatus(ctx, e.ID, "busy"), comagic.EINVALID, "status")
	wantEmpErr(t, "unknown employee", emps.SetStatus(ctx, 1<<40, "away"), comagic.ENOTFOUND, "")

	// Tokens: valid, expired, revoked; only hashes are stored.
	tok := func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }
	if err := emps.InsertToken(ctx, e.ID, tok("live"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := emps.InsertToken(ctx, e.ID, tok("old"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := emps.InsertToken(ctx, e.ID, tok("gone"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	wantEmpErr(t, "unknown employee token", emps.InsertToken(ctx, 1<<40, tok("x"), time.Now().Add(time.Hour)), comagic.ENOTFOUND, "")
	got, err := emps.EmployeeByToken(ctx, tok("live"))
	if err != nil || got.ID != e.ID || !slices.Equal(got.SiteIDs, []int64{tn.siteA.ID}) || got.Status != "online" {
		t.Fatalf("live token: %+v %v", got, err)
	}
	_, err = emps.EmployeeByToken(ctx, tok("old"))
	wantEmpErr(t, "expired token", err, comagic.ENOTFOUND, "")
	if err := emps.RevokeToken(ctx, tok("gone")); err != nil {
		t.Fatal(err)
	}
	if err := emps.RevokeToken(ctx, tok("never issued")); err != nil {
		t.Fatal(err)
	}
	_, err = emps.EmployeeByToken(ctx, tok("gone"))
	wantEmpErr(t, "revoked token", err, comagic.ENOTFOUND, "")
	_, err = emps.EmployeeByToken(ctx, tok("never issued"))
	wantEmpErr(t, "unknown token", err, comagic.ENOTFOUND, "")

	// Disable: offline, no login, every token revoked; twice keeps the time.
	d, err := emps.DisableEmployee(ctx, e.ID)
	if err != nil || d.DisabledAt == nil || d.Status != "offline" {
		t.Fatalf("disable: %+v %v", d, err)
	}
	_, err = emps.EmployeeByToken(ctx, tok("live"))
	wantEmpErr(t, "token of disabled", err, comagic.ENOTFOUND, "")
	var revoked int
	if err := tn.db.QueryRow(ctx, `SELECT count(*) FROM operator_tokens WHERE employee_id = $1 AND revoked_at IS NOT NULL`, e.ID).Scan(&revoked); err != nil || revoked != 3 {
		t.Fatalf("revoked tokens: %d %v", revoked, err)
	}
	_, _, err = emps.PasswordHash(ctx, "anna")
	wantEmpErr(t, "password of disabled", err, comagic.ENOTFOUND, "")
	wantEmpErr(t, "token for disabled", emps.InsertToken(ctx, e.ID, tok("new"), time.Now().Add(time.Hour)), comagic.ENOTFOUND, "")
	wantEmpErr(t, "status of disabled", emps.SetStatus(ctx, e.ID, "online"), comagic.ENOTFOUND, "")
	d2, err := emps.DisableEmployee(ctx, e.ID)
	if err != nil || !d2.DisabledAt.Equal(*d.DisabledAt) {
		t.Fatalf("disable twice: %+v %v", d2, err)
	}
	_, err = emps.DisableEmployee(ctx, 1<<40)
	wantEmpErr(t, "disable unknown", err, comagic.ENOTFOUND, "")
	_, _, err = emps.PasswordHash(ctx, "nobody")
	wantEmpErr(t, "unknown login", err, comagic.ENOTFOUND, "")

	// Expired and revoked tokens are deleted by DeleteTokens.
	n, err := emps.DeleteTokens(ctx, time.Now().Add(time.Minute))
	if err != nil || n != 3 {
		t.Fatalf("delete tokens: %d %v", n, err)
	}
}
