"""The one table of connection-refusal messages: server texts in every shipped language,
PgBouncer's own errors, and the pool-timeout texts of application libraries.

Both the prefilter's needles and the parser's matchers are derived from `MESSAGES`; adding a
wording here is all it takes to recognise it.

Text conventions (the runtime text, i.e. the po file's msgstr with its escapes undone):

* `%s` between quotes (`"%s"`, `»%s«`, `«%s»`, `« %s »`) is the role or database name;
* `%d` is the number a message carries (the current `max_wal_senders`);
* `%(name)d` / `%(name)f` / `%(name)s` are named numbers, decimals and tokens (library messages);
* a fixed argument (`"SUPERUSER"`) is rendered into the text through `args`;
* a real newline stays a newline (the French catalogue wraps two messages).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.signals.model import SignalKind

LIMIT_SQLSTATE = "53300"  # too_many_connections
NOT_READY_SQLSTATE = "57P03"  # cannot_connect_now
POOLER_SQLSTATE = "08P01"  # what PgBouncer sends with its own errors


@dataclass(frozen=True, slots=True)
class Message:
    """One wording of one condition, in one language."""

    kind: SignalKind
    text: str
    lang: str = "en"
    # Which variant of the kind (reserved-slot flavour, 57P03 state, PgBouncer setting, library):
    # part of a signal's identity, and its `detail` unless `detail_format` says otherwise.
    variant: str | None = None
    sqlstate: str | None = None
    producer: str = "postgres"
    # `str.format` over the named values matched in the text (library messages).
    detail_format: str | None = None
    # Library messages with numbers are specific enough to be recognised anywhere in a line;
    # every other message must start where an error report puts a message (see `parse`).
    anywhere: bool = False
    # Short tokens (`query_wait_timeout`) must also end where a message ends.
    strict_end: bool = False
    # The pooler whose own message this is (`Signal.pooler`).
    pooler: str | None = None


# Severity word of a FATAL report, as each catalogue translates it (stderr/csvlog and the
# client's 'S' field are translated; jsonlog and the 'V' field are not).
FATAL_WORDS: tuple[str, ...] = (
    "FATAL",
    "FATALE",  # it
    "FATALT",  # sv
    "ფატალური",  # ka
    "치명적오류",  # ko
    "KATASTROFALNY",  # pl
    "ВАЖНО",  # ru
    "ÖLÜMCÜL (FATAL)",  # tr
    "ФАТАЛЬНО",  # uk
    "致命错误",  # zh_CN
)


def _server(
    kind: SignalKind,
    texts: Mapping[str, str],
    *,
    variant: str | None = None,
    args: tuple[str, ...] = (),
) -> list[Message]:
    state = NOT_READY_SQLSTATE if kind is SignalKind.SERVER_NOT_READY else LIMIT_SQLSTATE
    out = []
    for lang, text in texts.items():
        for arg in args:
            text = text.replace("%s", arg, 1)
        out.append(Message(kind, text, lang, variant, state))
    return out


_K = SignalKind

SERVER_MESSAGES: tuple[Message, ...] = (
    *_server(
        _K.MAX_CONNECTIONS,
        {
            "en": "sorry, too many clients already",
            "de": "tut mir leid, schon zu viele Verbindungen",
            "es": "lo siento, ya tenemos demasiados clientes",
            "fr": "désolé, trop de clients sont déjà connectés",
            "id": "maaf, terlalu banyak klien yang sudah ada",
            "it": "spiacente, troppi client già connessi",
            "ja": "現在クライアント数が多すぎます",
            "ka": "უკაცრავად, უკვე მეტისმეტად ბევრი კლიენტია",
            "ko": "최대 동시 접속자 수를 초과했습니다.",
            "pl": "przepraszamy, mamy już zbyt wiele klientów",
            "pt_BR": "desculpe, muitos clientes conectados",
            "ru": "извините, уже слишком много клиентов",
            "sv": "ledsen, för många klienter",
            "tr": "üzgünüm, istemci sayısı çok fazla",
            "uk": "вибачте, вже забагато клієнтів",
            "zh_CN": "对不起, 已经有太多的客户",
        },
    ),
    *_server(
        _K.ROLE_LIMIT,
        {
            "en": 'too many connections for role "%s"',
            "de": "zu viele Verbindungen von Rolle »%s«",
            "es": "demasiadas conexiones para el rol «%s»",
            "fr": "trop de connexions pour le rôle « %s »",
            "id": "terlalu banyak koneksi untuk role « %s »",
            "it": 'troppe connessioni per il ruolo "%s"',
            "ja": 'ロール"%s"からの接続が多すぎます',
            "ka": 'მეტისმეტად ბევრი კავშირი როლისთვის "%s"',
            "ko": '"%s" 롤의 최대 동시 접속수를 초과했습니다',
            "pl": 'zbyt wiele połączeń dla roli "%s"',
            "pt_BR": 'muitas conexões para role "%s"',
            "ru": 'слишком много подключений для роли "%s"',
            "sv": 'för många uppkopplingar för roll "%s"',
            "tr": '"%s" rol bağlantı sayısı aşılmıştır',
            "uk": 'занадто багато підключень для ролі "%s"',
            "zh_CN": '由角色"%s"发起的连接太多了',
        },
    ),
    *_server(
        _K.DATABASE_LIMIT,
        {
            "en": 'too many connections for database "%s"',
            "de": "zu viele Verbindungen für Datenbank »%s«",
            "es": "demasiadas conexiones para la base de datos «%s»",
            "fr": "trop de connexions pour la base de données « %s »",
            "id": "terlalu banyak koneksi untuk database « %s »",
            "it": 'troppe connessioni al database "%s"',
            "ja": 'データベース"%s"への接続が多すぎます',
            "ka": 'ძალიან ბევრი კავშირი ბაზისთვის "%s"',
            "ko": '"%s" 데이터베이스 최대 접속수를 초과했습니다',
            "pl": 'zbyt wiele połączeń do bazy "%s"',
            "pt_BR": 'muitas conexões para banco de dados "%s"',
            "ru": 'слишком много подключений к БД "%s"',
            "sv": 'för många uppkopplingar till databasen "%s"',
            "tr": '"%s" veritabanı bağlantı sayısı aşılmıştır',
            "uk": 'занадто багато підключень до бази даних "%s"',
            "zh_CN": '到数据库 "%s"的连接太多了',
        },
    ),
    # Reserved slots, PG <= 8.4.
    *_server(
        _K.RESERVED_SLOTS,
        {"en": "connection limit exceeded for non-superusers"},
        variant="superuser",
    ),
    # PG 9.0 - 15 (the French catalogue wraps this one over two lines).
    *_server(
        _K.RESERVED_SLOTS,
        {
            "en": "remaining connection slots are reserved for non-replication superuser "
            "connections",
            "de": "die verbleibenden Verbindungen sind für Superuser auf "
            "Nicht-Replikationsverbindungen reserviert",
            "es": "las conexiones restantes están reservadas a superusuarios y no de replicación",
            "fr": "les emplacements de connexions restants sont réservés pour les connexions\n"
            "superutilisateur non relatif à la réplication",
            "id": "slot koneksi yang tersisa dipakai untuk superuser bukan replikasi",
            "it": "i rimanenti slot di connessione sono riservati a connessioni di superutenti "
            "non di replica",
            "ja": "残りの接続スロットはレプリケーションユーザではない"
            "スーパユーザ用に予約されています",
            "ko": "남은 연결 슬롯은 non-replication 슈퍼유저 연결용으로 남겨 놓았음",
            "pl": "pozostałe gniazda połączeń są zarezerwowane dla niereplikacyjnych połączeń "
            "superużytkowników",
            "pt_BR": "lacunas de conexão remanescentes são reservadas para conexões de "
            "super-usuário que não sejam usadas para replicação",
            "ru": "оставшиеся слоты подключений зарезервированы для подключений "
            "суперпользователя (не для репликации)",
            "sv": "resterande anslutningsslottar är reserverade för superuser-anslutningar "
            "utan replikering",
            "tr": "kalan bağlantı sayısı, replikasyon dışındaki superuser bağlantıları "
            "için ayrıldı",
            "uk": "слоти підключень, які залишились, зарезервовані для підключень "
            "суперкористувача (не для реплікації)",
            "zh_CN": "已保留的连接位置为执行非复制请求的超级用户预留",
        },
        variant="superuser",
    ),
    # The PG 15 release catalogue spells the Japanese one with long vowels (ユーザー).
    *_server(
        _K.RESERVED_SLOTS,
        {
            "ja": "残りの接続スロットはレプリケーションユーザーではない"
            "スーパーユーザー用に予約されています",
        },
        variant="superuser",
    ),
    # 16devel and 16beta1 wordings, never in a final release but in the wild from betas.
    *_server(
        _K.RESERVED_SLOTS,
        {"en": "remaining connection slots are reserved for superusers"},
        variant="superuser",
    ),
    *_server(
        _K.RESERVED_SLOTS,
        {"en": "remaining connection slots are reserved for roles with %s"},
        variant="superuser",
        args=("SUPERUSER",),
    ),
    # PG 16+.
    *_server(
        _K.RESERVED_SLOTS,
        {
            "en": "remaining connection slots are reserved for roles with the %s attribute",
            "de": "die verbleibenden Verbindungen sind für Rollen mit dem %s-Attribut reserviert",
            "es": "las conexiones restantes están reservadas a roles con el atributo %s",
            "ja": "残りの接続枠は%s属性を持つロールのために予約されています",
            "ka": "დარჩენილი მიერთების სლოტები დაცულია %s ატრიბუტის მქონე როლებისთვის",
            "ko": "남은 연결 슬롯은 %s 속성을 가진 롤용으로 남겨 놓았음",
            "pt_BR": "os encaixes de conexão restantes estão reservados para funções de banco "
            "de dados (roles) com o atributo %s",
            "ru": "оставшиеся слоты подключений зарезервированы для подключений ролей "
            "с атрибутом %s",
            "sv": "resterande anslutningsslottar är reserverade för roller med attributet %s",
            "uk": "слоти підключення, що залишилися, зарезервовані для ролей з атрибутом %s",
        },
        variant="superuser",
        args=("SUPERUSER",),
    ),
    *_server(
        _K.RESERVED_SLOTS,
        {
            "en": "remaining connection slots are reserved for roles with privileges of the "
            '"%s" role',
            "de": "die verbleibenden Verbindungen sind für Rollen mit den Privilegien der Rolle "
            "»%s« reserviert",
            "es": "las conexiones restantes están reservadas a roles con privilegios del rol «%s»",
            "ja": '残りの接続枠は"%s"ロールの権限を持つロールのために予約されています',
            "ka": "დარჩენილი მიერთების სლოტები დაცულია %s როლის პრივილეგიების მქონე როლებისთვის",
            "ko": '남은 연결 슬롯은 "%s" 롤 권한이 있는 롤용으로 남겨 놓았음',
            "pt_BR": "os encaixes de conexão restantes estão reservados para funções de banco "
            'de dados (roles) com privilégios da funções de banco de dados "%s"',
            "ru": "оставшиеся слоты подключений зарезервированы для подключений ролей "
            'с правами роли "%s"',
            "sv": "resterande anslutningsslottar är reserverade för roller med rättigheter "
            'från rollen "%s"',
            "uk": "слоти підключення, що залишилися, зарезервовані для ролей з привілеями "
            'ролі "%s"',
        },
        variant="pg_use_reserved_connections",
        args=("pg_use_reserved_connections",),
    ),
    # PG 17+ quotes the GUC name (ja misplaces the closing quote; that is what servers print).
    *_server(
        _K.WALSENDER_LIMIT,
        {
            "en": 'number of requested standby connections exceeds "max_wal_senders" '
            "(currently %d)",
            "de": "Anzahl angeforderter Standby-Verbindungen überschreitet »max_wal_senders« "
            "(aktuell %d)",
            "es": "la cantidad de conexiones standby pedidas excede «max_wal_senders» "
            "(actualmente %d)",
            "ja": '要求されたスタンバイ接続が"max_wal_senders を超えています" (現在は %d)',
            "ko": '대기 서버 연결 수가 "max_wal_senders" 설정값(현재 %d)을 초과했습니다',
            "ru": "число запрошенных подключений резервных серверов превышает "
            '"max_wal_senders" (сейчас: %d)',
            "sv": 'antalet efterfrågade standby-anslutningar överskrider "max_wal_senders" (nu %d)',
            "uk": "кількість запитаних підключень резервного серверу перевищує "
            '"max_wal_senders" (поточна %d)',
        },
    ),
    # PG 9.0 - 16.
    *_server(
        _K.WALSENDER_LIMIT,
        {
            "en": "number of requested standby connections exceeds max_wal_senders (currently %d)",
            "de": "Anzahl angeforderter Standby-Verbindungen überschreitet max_wal_senders "
            "(aktuell %d)",
            "es": "la cantidad de conexiones standby pedidas excede max_wal_senders "
            "(actualmente %d)",
            "fr": "le nombre de connexions demandées par le serveur en attente dépasse\n"
            "max_wal_senders (actuellement %d)",
            "id": "jumlah koneksi siaga yang diminta melebihi max_wal_senders (saat ini %d)",
            "it": "il numero di richieste di connessioni di standby supera max_wal_senders "
            "(attualmente %d)",
            "ja": "要求されたスタンバイ接続が max_wal_senders を超えています（現在は %d）",
            "ko": "대기 서버 연결 수가 max_wal_senders 설정값(현재 %d)을 초과했습니다",
            "pl": "liczba żądanych połączeń gotowości przekracza max_wal_senders (obecnie %d)",
            "pt_BR": "número de conexões dos servidores em espera solicitadas excedeu "
            "max_wal_senders (atualmente %d)",
            "ru": "число запрошенных подключений резервных серверов превосходит max_wal_senders "
            "(сейчас: %d)",
            "sv": "antalet efterfrågade standby-anslutningar överskrider max_wal_senders (nu %d)",
            "tr": "talep edilen yedek (standby) bağlantı sayısı max_wal_senders değerini "
            "(şu anda %d) aşmakta",
            "uk": "кількість запитаних підключень резервного серверу перевищує max_wal_senders "
            "(поточна %d)",
            "zh_CN": "所要求的备用服务器连接数超过了参数max_wal_senders的值(当前设置为%d)",
        },
    ),
    *_server(
        _K.SERVER_NOT_READY,
        {
            "en": "the database system is starting up",
            "de": "das Datenbanksystem startet",
            "es": "el sistema de base de datos está iniciándose",
            "fr": "le système de bases de données se lance",
            "id": "sistem database dinyalakan",
            "it": "il database si sta avviando",
            "ja": "データベースシステムは起動処理中です",
            "ka": "მიმდინარეობს მონაცემთა ბაზის სისტემის გაშვება",
            "ko": "데이터베이스 시스템이 새로 가동 중입니다.",
            "pl": "system bazy danych uruchamia się",
            "pt_BR": "o sistema de banco de dados está iniciando",
            "ru": "система баз данных запускается",
            "sv": "databassystemet startar upp",
            "tr": "veritabanı başlatılıyor",
            "uk": "система бази даних запускається",
            "zh_CN": "数据库系统启动中",
        },
        variant="starting up",
    ),
    *_server(
        _K.SERVER_NOT_READY,
        {
            "en": "the database system is shutting down",
            "de": "das Datenbanksystem fährt herunter",
            "es": "el sistema de base de datos está apagándose",
            "fr": "le système de base de données s'arrête",
            "id": "sistem database dimatikan",
            "it": "il database si sta spegnendo",
            "ja": "データベースシステムはシャットダウンしています",
            "ka": "მონაცემთა ბაზის სისტემა ითიშება",
            "ko": "데이터베이스 시스템이 중지 중입니다",
            "pl": "system bazy danych jest zamykany",
            "pt_BR": "o sistema de banco de dados está desligando",
            "ru": "система баз данных останавливается",
            "sv": "databassystemet stänger ner",
            "tr": "veritabanı kapatılıyor",
            "uk": "система бази даних завершує роботу",
            "zh_CN": "数据库系统停止中",
        },
        variant="shutting down",
    ),
    *_server(
        _K.SERVER_NOT_READY,
        {
            "en": "the database system is in recovery mode",
            "de": "das Datenbanksystem ist im Wiederherstellungsmodus",
            "es": "el sistema de base de datos está en modo de recuperación",
            "fr": "le système de bases de données est en cours de restauration",
            "id": "sistem database dalam mode pemulihan",
            "it": "il database è in modalità di ripristino",
            "ja": "データベースシステムはリカバリモードです",
            "ka": "მონაცემთა ბაზის სისტემა აღდგენის რეჟიმშია",
            "ko": "데이터베이스 시스템이 자동 복구 작업 중입니다.",
            "pl": "system bazy danych jest w trybie odzyskiwania",
            "pt_BR": "o sistema de banco de dados está em modo de recuperação",
            "ru": "система баз данных в режиме восстановления",
            "sv": "databassystemet är återställningsläge",
            "tr": "veritabanı kurtarma modundadır",
            "uk": "система бази даних у режимі відновлення",
            "zh_CN": "数据库系统在恢复模式中",
        },
        variant="in recovery mode",
    ),
    *_server(
        _K.SERVER_NOT_READY,
        {
            "en": "the database system is not yet accepting connections",
            "de": "das Datenbanksystem nimmt noch keine Verbindungen an",
            "es": "el sistema de bases de datos aún no está aceptando conexiones",
            "fr": "le système de bases de données n'accepte pas encore de connexions",
            "it": "il sistema di database non accetta ancora connessioni",
            "ja": "データベースシステムはまだ接続を受け付けていません",
            "ka": "მონაცემთა ბაზის სისტემა ჯერ მიერთებებს არ იღებს",
            "ko": "해당 데이터베이스 시스템은 아직 접속을 허용하지 않습니다.",
            "pt_BR": "o sistema de banco de dados ainda não está aceitando conexões",
            "ru": "система БД ещё не принимает подключения",
            "sv": "databassystemet tar ännu inte emot anslutningar",
            "uk": "система бази даних ще не приймає підключення",
        },
        variant="not yet accepting connections",
    ),
    # PG 14+; translations as in the PG 15 release catalogues.
    *_server(
        _K.SERVER_NOT_READY,
        {
            "en": "the database system is not accepting connections",
            "de": "das Datenbanksystem nimmt keine Verbindungen an",
            "es": "el sistema de bases de datos no está aceptando conexiones",
            "fr": "le système de bases de données n'accepte pas de connexions",
            "it": "il sistema di database non accetta connessioni",
            "ja": "データベースシステムは接続を受け付けていません",
            "ka": "მონაცემთა ბაზის სისტემა მიერთებებს არ იღებს",
            "ko": "해당 데이터베이스 시스템은 접속을 허용하지 않습니다.",
            "ru": "система БД не принимает подключения",
            "sv": "databassystemet tar inte emot anslutningar",
            "uk": "система бази даних не приймає підключення",
        },
        variant="not accepting connections",
    ),
)


def _pooler(kind: SignalKind, text: str, variant: str, *, strict_end: bool = False) -> Message:
    return Message(
        kind,
        text,
        variant=variant,
        sqlstate=POOLER_SQLSTATE,
        producer="pgbouncer",
        strict_end=strict_end,
        pooler="pgbouncer",
    )


def _other(
    pooler: str,
    kind: SignalKind,
    text: str,
    detail_format: str,
    sqlstate: str | None,
    *,
    anywhere: bool = True,
    strict_end: bool = False,
) -> Message:
    """A message of a pooler other than PgBouncer. With numbers or a wording of its own it
    counts anywhere; short or generic ones need a lead-in or an error report around them."""
    return Message(
        kind,
        text,
        variant=detail_format,
        sqlstate=sqlstate,
        producer=pooler,
        detail_format=detail_format,
        anywhere=anywhere,
        strict_end=strict_end,
        pooler=pooler,
    )


POOLER_MESSAGES: tuple[Message, ...] = (
    _pooler(
        _K.POOLER_CLIENT_LIMIT, "no more connections allowed (max_client_conn)", "max_client_conn"
    ),
    # PgBouncer 1.24+.
    _pooler(
        _K.POOLER_CLIENT_LIMIT,
        "client connections exceeded (max_db_client_connections)",
        "max_db_client_connections",
    ),
    _pooler(
        _K.POOLER_CLIENT_LIMIT,
        "client connections exceeded (max_user_client_connections)",
        "max_user_client_connections",
    ),
    _pooler(_K.POOLER_WAIT_TIMEOUT, "query_wait_timeout", "query_wait_timeout", strict_end=True),
    _pooler(
        _K.POOLER_WAIT_TIMEOUT,
        "client_login_timeout (server down)",
        "client_login_timeout",
        strict_end=True,
    ),
    # Fast-fail after a failed server login: <= 1.16, 1.17 - 1.23, 1.24+ (the last wraps the
    # server's own message, which `parse` also reports).
    _pooler(_K.POOLER_WAIT_TIMEOUT, "pgbouncer cannot connect to server", "server_login_retry"),
    _pooler(
        _K.POOLER_WAIT_TIMEOUT,
        "server login has been failing, try again later (server_login_retry)",
        "server_login_retry",
    ),
    _pooler(
        _K.POOLER_WAIT_TIMEOUT, "server login has been failing, cached error:", "server_login_retry"
    ),
    # Supavisor (supabase/supavisor lib/supavisor/errors/*.ex since "add error codes" #841; the
    # client gets FATAL XX000 with the message, its log the `log_message`).
    _other(
        "supavisor",
        _K.POOLER_CLIENT_LIMIT,
        "(EMAXCONN) max client connections reached, limit: %(limit)d",
        "supavisor EMAXCONN limit={limit}",
        "XX000",
    ),
    _other(
        "supavisor",
        _K.POOLER_CLIENT_LIMIT,
        "(EMAXCONN) max client connections reached in transaction mode, limit: %(limit)d",
        "supavisor EMAXCONN transaction mode limit={limit}",
        "XX000",
    ),
    _other(
        "supavisor",
        _K.POOLER_CLIENT_LIMIT,
        "(EMAXCONN) max proxy connections reached, limit: %(limit)d",
        "supavisor EMAXCONN proxy mode limit={limit}",
        "XX000",
    ),
    _other(
        "supavisor",
        _K.POOLER_CLIENT_LIMIT,
        "(EMAXCONNSESSION) max clients reached in session mode - max clients are limited to "
        "pool_size: %(limit)d",
        "supavisor EMAXCONNSESSION session mode pool_size={limit}",
        "XX000",
    ),
    _other(
        "supavisor",
        _K.POOLER_WAIT_TIMEOUT,
        "(ECHECKOUTTIMEOUT) unable to check out connection from the pool after %(ms)dms in "
        "%(mode)s mode",
        "supavisor ECHECKOUTTIMEOUT {mode} mode after {ms}ms",
        "XX000",
    ),
    # Supavisor before error codes (lib/supavisor/client_handler/error.ex).
    _other(
        "supavisor",
        _K.POOLER_CLIENT_LIMIT,
        "MaxClientsInSessionMode: max clients reached - in Session mode max clients are "
        "limited to pool_size",
        "supavisor MaxClientsInSessionMode session mode pool_size",
        "XX000",
    ),
    _other(
        "supavisor",
        _K.POOLER_WAIT_TIMEOUT,
        "Unable to check out connection from the pool due to timeout",
        "supavisor checkout timeout",
        "XX000",
    ),
    _other(
        "supavisor",
        _K.POOLER_CLIENT_LIMIT,
        "Max client connections reached",
        "supavisor max clients",
        "XX000",
        anywhere=False,
        strict_end=True,
    ),
    # Pgpool-II's own client limit with reserved_connections > 0 (pgpool2 src/protocol/child.c):
    # PostgreSQL's words with a capital S. A backend's refusal is passed on unchanged.
    _other(
        "pgpool",
        _K.POOLER_CLIENT_LIMIT,
        "Sorry, too many clients already",
        "pgpool num_init_children - reserved_connections",
        LIMIT_SQLSTATE,
        anywhere=False,
    ),
    # PgDog (pgdogdev/pgdog pgdog/src/backend/pool/error.rs, sent by ErrorResponse::from_err).
    _other(
        "pgdog",
        _K.POOLER_WAIT_TIMEOUT,
        "checkout timeout",
        "pgdog checkout_timeout",
        "58000",
        anywhere=False,
        strict_end=True,
    ),
    # pgcat (postgresml/pgcat src/client.rs; the reason is the pool error's Debug form).
    _other(
        "pgcat",
        _K.POOLER_WAIT_TIMEOUT,
        "could not get connection from the pool - %(reason)s",
        "pgcat {reason}",
        "58000",
    ),
    # Odyssey (yandex/odyssey sources/frontend.c; prefixed `odyssey: <client id>: `).
    _other(
        "odyssey",
        _K.POOLER_WAIT_TIMEOUT,
        "too many active clients for user (pool_size for user %(route)s reached %(size)d)",
        "odyssey pool_size={size} route={route}",
        LIMIT_SQLSTATE,
    ),
    _other(
        "odyssey",
        _K.POOLER_CLIENT_LIMIT,
        "too many tcp connections (global client_max %(limit)d)",
        "odyssey global client_max={limit}",
        LIMIT_SQLSTATE,
    ),
    _other(
        "odyssey",
        _K.POOLER_CLIENT_LIMIT,
        "too many client tcp connections (global client_max)",
        "odyssey global client_max",
        LIMIT_SQLSTATE,
    ),
    _other(
        "odyssey",
        _K.POOLER_CLIENT_LIMIT,
        "too many client tcp connections (client_max for user %(route)s %(limit)d)",
        "odyssey client_max={limit} route={route}",
        LIMIT_SQLSTATE,
    ),
    # AWS RDS Proxy (RDS user guide, rds-proxy troubleshooting, PostgreSQL errors table).
    _other(
        "rds_proxy",
        _K.POOLER_CLIENT_LIMIT,
        "The maximum number of client connections to the proxy exceeded %(limit)d",
        "rds_proxy max client connections={limit}",
        None,
    ),
    _other(
        "rds_proxy",
        _K.POOLER_WAIT_TIMEOUT,
        "Timed-out waiting to acquire database connection",
        "rds_proxy ConnectionBorrowTimeout",
        None,
    ),
    # Neon's proxy (neondatabase/neon proxy/src/auth/mod.rs, proxy/src/compute/mod.rs).
    _other(
        "neon",
        _K.POOLER_CLIENT_LIMIT,
        "Too many connections to this endpoint. Please try again later.",
        "neon endpoint connection limit",
        None,
    ),
    _other(
        "neon",
        _K.POOLER_WAIT_TIMEOUT,
        "Failed to acquire permit to connect to the database. Too many database connection "
        "attempts are currently ongoing.",
        "neon connect permits",
        None,
    ),
)


def _app(producer: str, text: str, detail_format: str, *, anywhere: bool = True) -> Message:
    return Message(
        _K.APP_POOL_TIMEOUT,
        text,
        variant=producer,
        producer=producer,
        detail_format=detail_format,
        anywhere=anywhere,
    )


APP_POOL_MESSAGES: tuple[Message, ...] = (
    _app(
        "sqlalchemy",
        "QueuePool limit of size %(pool_size)d overflow %(overflow)d reached, "
        "connection timed out, timeout %(timeout)f",
        "sqlalchemy pool_size={pool_size} overflow={overflow} timeout={timeout}",
    ),
    # HikariCP 5.1+ adds the pool statistics; earlier versions end with "ms.".
    _app(
        "hikaricp",
        "Connection is not available, request timed out after %(elapsed)dms "
        "(total=%(total)d, active=%(active)d, idle=%(idle)d, waiting=%(waiting)d)",
        "hikaricp total={total} active={active} idle={idle} waiting={waiting}",
    ),
    _app(
        "hikaricp",
        "Connection is not available, request timed out after %(elapsed)dms.",
        "hikaricp waited={elapsed}ms",
    ),
    _app(
        "rails",
        "could not obtain a connection from the pool within %(timeout)f seconds "
        "(waited %(waited)f seconds); all pooled connections were in use",
        "rails checkout_timeout={timeout} waited={waited}",
    ),
    _app(
        "prisma",
        "Timed out fetching a new connection from the connection pool. More info: %(url)s "
        "(Current connection pool timeout: %(timeout)d, connection limit: %(connection_limit)d)",
        "prisma connection_limit={connection_limit} timeout={timeout}",
    ),
    _app(
        "prisma",
        "Timed out fetching a new connection from the connection pool",
        "prisma",
    ),
    _app(
        "psycopg_pool",
        "couldn't get a connection after %(timeout)f sec",
        "psycopg_pool timeout={timeout}",
    ),
    # No number to make it specific: it must follow an error prefix (`Error: `).
    _app("pg-pool", "timeout exceeded when trying to connect", "pg-pool", anywhere=False),
    # knex/knex lib/client.js (KnexTimeoutError).
    _app("knex", "Knex: Timeout acquiring a connection. The pool is probably full.", "knex"),
    # sequelize/sequelize packages/core/src/errors/connection/connection-acquire-timeout-error.ts
    _app("sequelize", "SequelizeConnectionAcquireTimeoutError", "sequelize"),
    # npgsql/npgsql src/Npgsql/PoolingDataSource.cs (current) and ConnectorPool.cs (<= 5).
    _app(
        "npgsql",
        "The connection pool has been exhausted, either raise 'Max Pool Size' (currently "
        "%(max)d) or 'Timeout' (currently %(timeout)d seconds)",
        "npgsql max_pool_size={max} timeout={timeout}",
    ),
    _app(
        "npgsql",
        "The connection pool has been exhausted, either raise MaxPoolSize (currently %(max)d) "
        "or Timeout (currently %(timeout)d seconds)",
        "npgsql max_pool_size={max} timeout={timeout}",
    ),
    # launchbadge/sqlx sqlx-core/src/error.rs (Error::PoolTimedOut).
    _app("sqlx", "pool timed out while waiting for an open connection", "sqlx"),
    # elixir-ecto/db_connection lib/db_connection/connection_pool.ex (Ecto's queue timeout).
    _app(
        "dbconnection",
        "connection not available and request was dropped from queue after %(delay)dms",
        "dbconnection queue dropped after {delay}ms",
    ),
    # hibernate/hibernate-orm DriverManagerConnectionProviderImpl (its built-in pool).
    _app(
        "hibernate",
        "The internal connection pool has reached its maximum size and no connection is "
        "currently available",
        "hibernate built-in pool at its maximum size",
    ),
    # MagicStack/asyncpg asyncpg/pool.py: an acquire timeout is a bare TimeoutError raised
    # from this frame; `parse` confirms the TimeoutError below it.
    _app("asyncpg", 'asyncpg/pool.py", line %(line)d, in _acquire', "asyncpg pool acquire"),
)

MESSAGES: tuple[Message, ...] = SERVER_MESSAGES + POOLER_MESSAGES + APP_POOL_MESSAGES

# Index of the 1.24+ PgBouncer message that wraps a server error.
CACHED_ERROR = next(i for i, m in enumerate(MESSAGES) if m.text.endswith("cached error:"))
