from alembic import context

from kefu.core.db import make_engine

config = context.config


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None, "kefu.core.db.upgrade sets sqlalchemy.url"
    engine = make_engine(url)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch migrations rebuild a SQLite table (copy, drop, rename):
            # with foreign keys on, dropping `tickets` would cascade and
            # delete every ticket event, survey and follow-up. Off before
            # the transaction begins (SQLite ignores it inside one); checked
            # below, so a migration cannot leave a dangling reference.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()  # end the autobegun transaction, or alembic's would nest in it
        context.configure(connection=connection, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"migration left rows without their parent: {broken[:5]}")
    engine.dispose()


run_migrations_online()
