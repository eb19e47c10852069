package driver

import (
	"context"
	"database/sql/driver"
	"io"
)

var (
	_ driver.Connector     = (*Connector)(nil)
	_ io.Closer            = (*Connector)(nil)
	_ driver.Driver        = (*Driver)(nil)
	_ driver.DriverContext = (*Driver)(nil)
)

func contextBackground() context.Context { return context.Background() }

// Connector wraps another connector; database/sql opens caching connections
// from it (sql.OpenDB).
type Connector struct {
	parent driver.Connector
	cfg    *Config
}

// NewConnector wraps parent. cfg must have been initialised with Init.
func NewConnector(parent driver.Connector, cfg *Config) *Connector {
	return &Connector{parent: parent, cfg: cfg}
}

// Connect opens a wrapped connection and reads its session namespace.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	pc, err := c.parent.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return c.wrap(ctx, pc)
}

func (c *Connector) wrap(ctx context.Context, pc driver.Conn) (driver.Conn, error) {
	conn := &Conn{parent: pc, cfg: c.cfg}
	if err := conn.readSession(ctx); err != nil {
		pc.Close()
		return nil, err
	}
	// Read the database's catalog now, outside any transaction, if no
	// connection has yet: a transaction cannot read it, and without it every
	// statement is treated as cautiously as possible.
	conn.catalog(ctx)
	return conn, nil
}

// Driver implements driver.Connector.
func (c *Connector) Driver() driver.Driver {
	return &Driver{parent: c.parent.Driver(), cfg: func() (*Config, error) { return c.cfg, nil }}
}

// Close closes the wrapped connector when it can be closed.
func (c *Connector) Close() error {
	if cl, ok := c.parent.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

// Config returns the connector's configuration (for stats).
func (c *Connector) Config() *Config { return c.cfg }

// Driver wraps another driver. Its configuration is obtained on first use, so
// a driver registered in init can read its settings from the environment
// when the program first opens a database.
type Driver struct {
	parent driver.Driver
	cfg    func() (*Config, error)
}

// NewDriver wraps parent; cfg is called on every Open and should be cheap.
func NewDriver(parent driver.Driver, cfg func() (*Config, error)) *Driver {
	return &Driver{parent: parent, cfg: cfg}
}

// Open implements driver.Driver.
func (d *Driver) Open(name string) (driver.Conn, error) {
	c, err := d.OpenConnector(name)
	if err != nil {
		return nil, err
	}
	return c.Connect(context.Background())
}

// OpenConnector implements driver.DriverContext.
func (d *Driver) OpenConnector(name string) (driver.Connector, error) {
	cfg, err := d.cfg()
	if err != nil {
		return nil, err
	}
	if cfg.OnDSN != nil {
		cfg.OnDSN(name)
	}
	if dc, ok := d.parent.(driver.DriverContext); ok {
		pc, err := dc.OpenConnector(name)
		if err != nil {
			return nil, err
		}
		return NewConnector(pc, cfg), nil
	}
	return NewConnector(dsnConnector{name: name, drv: d.parent}, cfg), nil
}

// dsnConnector adapts a driver without DriverContext.
type dsnConnector struct {
	name string
	drv  driver.Driver
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.name) }
func (c dsnConnector) Driver() driver.Driver                        { return c.drv }
