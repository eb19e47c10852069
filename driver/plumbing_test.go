package driver

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"testing"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/cacheops/cacheops/catalog"
	"github.com/cacheops/cacheops/lua"
)

// mockDB wraps a go-sqlmock driver: the session read is expected once, the
// catalog is given, and every other statement must be expected explicitly.
func mockDB(t *testing.T) (*sql.DB, sqlmock.Sqlmock, *Config) {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	cfg := (&Config{Store: lua.NewStore(rdb), Prefix: "mock:"}).Init()
	d := cfg.database("42/app")
	cat := catalog.New([]*catalog.Relation{
		{OID: 1, Schema: "public", Name: "post", Kind: 'r'},
	}, map[string]map[string]byte{"pg_catalog": {"count": 'i'}})
	cat.Token = cfg.schemaToken(context.Background(), d)
	d.setCatalog(cat)

	dsn := "cacheops_" + t.Name()
	mockConn, mock, err := sqlmock.NewWithDSN(dsn, sqlmock.QueryMatcherOption(sqlmock.QueryMatcherEqual))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mockConn.Close() })
	session := sqlmock.NewRows([]string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r"}).
		AddRow("42", "app", "alice", "alice", `"$user", public`, "read committed", "", "UTC", "ISO, MDY", "postgres", "C", "C", "C", "1", "hex", "pg_catalog.english", "on", "off")
	mock.ExpectQuery(sessionSQL).WillReturnRows(session)
	db := sql.OpenDB(NewConnector(mockConnector{mockConn.Driver(), dsn}, cfg))
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db, mock, cfg
}

type mockConnector struct {
	d   driver.Driver
	dsn string
}

func (m mockConnector) Connect(context.Context) (driver.Conn, error) { return m.d.Open(m.dsn) }
func (m mockConnector) Driver() driver.Driver                        { return m.d }

func TestPlumbingAHitConsumesNoQueryExpectation(t *testing.T) {
	db, mock, cfg := mockDB(t)
	q := "SELECT id, title FROM post WHERE id = $1"
	mock.ExpectQuery(q).WithArgs(1).WillReturnRows(sqlmock.NewRows([]string{"id", "title"}).AddRow(int64(1), "hello"))
	for i := 0; i < 3; i++ {
		var id int
		var title string
		if err := db.QueryRow(q, 1).Scan(&id, &title); err != nil {
			t.Fatal(err)
		}
		if id != 1 || title != "hello" {
			t.Fatalf("%d %q", id, title)
		}
	}
	if err := mock.ExpectationsWereMet(); err != nil {
		t.Fatalf("%v %+v", err, cfg.Stats())
	}
	if s := cfg.Stats(); s.Hits != 2 || s.Misses != 1 || s.Stores != 1 {
		t.Fatalf("%+v", s)
	}
}

func TestPlumbingWriteInvalidatesAndTransactionsQueue(t *testing.T) {
	db, mock, cfg := mockDB(t)
	q := "SELECT count(*) FROM post"
	result := func() *sqlmock.Rows { return sqlmock.NewRows([]string{"count"}).AddRow(int64(3)) }
	mock.ExpectQuery(q).WillReturnRows(result())
	mock.ExpectExec("UPDATE post SET title = 'x'").WillReturnResult(sqlmock.NewResult(0, 3))
	mock.ExpectQuery(q).WillReturnRows(result())
	mock.ExpectBegin()
	mock.ExpectExec("DELETE FROM post").WillReturnResult(sqlmock.NewResult(0, 3))
	mock.ExpectQuery(q).WillReturnRows(result()) // dirty: bypasses
	mock.ExpectRollback()
	mock.ExpectBegin()
	mock.ExpectExec("DELETE FROM post").WillReturnResult(sqlmock.NewResult(0, 3))
	mock.ExpectCommit()
	mock.ExpectQuery(q).WillReturnRows(result())

	read := func(r interface{ QueryRow(string, ...any) *sql.Row }) {
		var n int
		if err := r.QueryRow(q).Scan(&n); err != nil || n != 3 {
			t.Fatalf("%d %v", n, err)
		}
	}
	read(db)
	read(db) // hit
	if _, err := db.Exec("UPDATE post SET title = 'x'"); err != nil {
		t.Fatal(err)
	}
	read(db) // miss: invalidated
	read(db) // hit
	tx, _ := db.Begin()
	if _, err := tx.Exec("DELETE FROM post"); err != nil {
		t.Fatal(err)
	}
	read(tx)
	tx.Rollback()
	read(db) // hit: the rollback dropped the queue
	tx, _ = db.Begin()
	tx.Exec("DELETE FROM post")
	tx.Commit()
	read(db) // miss: the commit invalidated
	if err := mock.ExpectationsWereMet(); err != nil {
		t.Fatal(err)
	}
	if s := cfg.Stats(); s.Hits != 3 {
		t.Fatalf("%+v", s)
	}
}

func TestPlumbingRedisDownIsNotTheCallersError(t *testing.T) {
	db, mock, cfg := mockDB(t)
	cfg.Store = lua.NewStore(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1}))
	q := "SELECT count(*) FROM post"
	for i := 0; i < 2; i++ {
		mock.ExpectQuery(q).WillReturnRows(sqlmock.NewRows([]string{"count"}).AddRow(int64(3)))
		var n int
		if err := db.QueryRow(q).Scan(&n); err != nil || n != 3 {
			t.Fatalf("%d %v", n, err)
		}
	}
	if err := mock.ExpectationsWereMet(); err != nil {
		t.Fatal(err)
	}
	if s := cfg.Stats(); s.RedisErrors != 2 {
		t.Fatalf("%+v", s)
	}
}

// A corrupt entry is a miss, is deleted and is counted; never an error.
func TestPlumbingCorruptEntryIsAMiss(t *testing.T) {
	db, mock, cfg := mockDB(t)
	q := "SELECT count(*) FROM post"
	for i := 0; i < 2; i++ {
		mock.ExpectQuery(q).WillReturnRows(sqlmock.NewRows([]string{"count"}).AddRow(int64(3)))
	}
	var n int
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	rdb := cfg.Store.Client()
	ctx := context.Background()
	cfg.Settle()
	keys, _ := rdb.Keys(ctx, "mock:{*}e:*").Result()
	if len(keys) != 1 {
		t.Fatalf("keys %v", keys)
	}
	v, _ := rdb.Get(ctx, keys[0]).Result()
	rdb.Set(ctx, keys[0], v[:len(v)-1], 0) // truncated payload, tokens intact
	if err := db.QueryRow(q).Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d %v", n, err)
	}
	if err := mock.ExpectationsWereMet(); err != nil {
		t.Fatal(err)
	}
	if s := cfg.Stats(); s.DecodeErrors != 1 {
		t.Fatalf("%+v", s)
	}
	if rdb.Exists(ctx, keys[0]).Val() != 0 {
		t.Fatal("the corrupt entry was not deleted")
	}
}
