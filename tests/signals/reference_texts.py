"""msgstr of each connection-refusal msgid in PostgreSQL's catalogues, as listed in
shared/reference/connection-errors.md (A2): po escapes undone (a `\\n` is a real newline), FUZZY and
empty entries left out, English (the msgid) not repeated. Kept apart from
`bot.signals.messages` so the tests check that table against the reference."""

MSGSTR: dict[str, dict[str, str]] = {
    "sorry, too many clients already": {
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
    'too many connections for role "%s"': {
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
    'too many connections for database "%s"': {
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
    "remaining connection slots are reserved for roles with the %s attribute": {
        "de": "die verbleibenden Verbindungen sind für Rollen mit dem %s-Attribut reserviert",
        "es": "las conexiones restantes están reservadas a roles con el atributo %s",
        "ja": "残りの接続枠は%s属性を持つロールのために予約されています",
        "ka": "დარჩენილი მიერთების სლოტები დაცულია %s ატრიბუტის მქონე როლებისთვის",
        "ko": "남은 연결 슬롯은 %s 속성을 가진 롤용으로 남겨 놓았음",
        "pt_BR": "os "
        "encaixes "
        "de "
        "conexão "
        "restantes "
        "estão "
        "reservados "
        "para "
        "funções "
        "de "
        "banco "
        "de "
        "dados "
        "(roles) "
        "com o "
        "atributo "
        "%s",
        "ru": "оставшиеся слоты подключений зарезервированы для подключений ролей с атрибутом %s",
        "sv": "resterande anslutningsslottar är reserverade för roller med attributet %s",
        "uk": "слоти підключення, що залишилися, зарезервовані для ролей з атрибутом %s",
    },
    'remaining connection slots are reserved for roles with privileges of the "%s" role': {
        "de": "die "
        "verbleibenden "
        "Verbindungen "
        "sind "
        "für "
        "Rollen "
        "mit "
        "den "
        "Privilegien "
        "der "
        "Rolle "
        "»%s« "
        "reserviert",
        "es": "las conexiones restantes están reservadas a roles con privilegios del rol «%s»",
        "ja": '残りの接続枠は"%s"ロールの権限を持つロールのために予約されています',
        "ka": "დარჩენილი მიერთების სლოტები დაცულია %s როლის პრივილეგიების მქონე როლებისთვის",
        "ko": '남은 연결 슬롯은 "%s" 롤 권한이 있는 롤용으로 남겨 놓았음',
        "pt_BR": "os "
        "encaixes "
        "de "
        "conexão "
        "restantes "
        "estão "
        "reservados "
        "para "
        "funções "
        "de "
        "banco "
        "de "
        "dados "
        "(roles) "
        "com "
        "privilégios "
        "da "
        "funções "
        "de "
        "banco "
        "de "
        "dados "
        '"%s"',
        "ru": "оставшиеся "
        "слоты "
        "подключений "
        "зарезервированы "
        "для "
        "подключений "
        "ролей "
        "с "
        "правами "
        "роли "
        '"%s"',
        "sv": "resterande "
        "anslutningsslottar "
        "är "
        "reserverade "
        "för "
        "roller "
        "med "
        "rättigheter "
        "från "
        "rollen "
        '"%s"',
        "uk": 'слоти підключення, що залишилися, зарезервовані для ролей з привілеями ролі "%s"',
    },
    'number of requested standby connections exceeds "max_wal_senders" (currently %d)': {
        "de": "Anzahl "
        "angeforderter "
        "Standby-Verbindungen "
        "überschreitet "
        "»max_wal_senders« "
        "(aktuell "
        "%d)",
        "es": "la cantidad de conexiones standby pedidas excede «max_wal_senders» (actualmente %d)",
        "ja": '要求されたスタンバイ接続が"max_wal_senders を超えています" (現在は %d)',
        "ko": '대기 서버 연결 수가 "max_wal_senders" 설정값(현재 %d)을 초과했습니다',
        "ru": "число "
        "запрошенных "
        "подключений "
        "резервных "
        "серверов "
        "превышает "
        '"max_wal_senders" '
        "(сейчас: "
        "%d)",
        "sv": 'antalet efterfrågade standby-anslutningar överskrider "max_wal_senders" (nu %d)',
        "uk": "кількість "
        "запитаних "
        "підключень "
        "резервного "
        "серверу "
        "перевищує "
        '"max_wal_senders" '
        "(поточна "
        "%d)",
    },
    "FATAL": {
        "de": "FATAL",
        "es": "FATAL",
        "fr": "FATAL",
        "id": "FATAL",
        "it": "FATALE",
        "ja": "FATAL",
        "ka": "ფატალური",
        "ko": "치명적오류",
        "pl": "KATASTROFALNY",
        "pt_BR": "FATAL",
        "ru": "ВАЖНО",
        "sv": "FATALT",
        "tr": "ÖLÜMCÜL (FATAL)",
        "uk": "ФАТАЛЬНО",
        "zh_CN": "致命错误",
    },
    "the database system is starting up": {
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
    "the database system is shutting down": {
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
    "the database system is in recovery mode": {
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
    "the database system is not yet accepting connections": {
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
    "remaining connection slots are reserved for non-replication superuser connections": {
        "de": "die "
        "verbleibenden "
        "Verbindungen "
        "sind "
        "für "
        "Superuser "
        "auf "
        "Nicht-Replikationsverbindungen "
        "reserviert",
        "es": "las conexiones restantes están reservadas a superusuarios y no de replicación",
        "fr": "les "
        "emplacements "
        "de "
        "connexions "
        "restants "
        "sont "
        "réservés "
        "pour "
        "les "
        "connexions\n"
        "superutilisateur "
        "non "
        "relatif "
        "à "
        "la "
        "réplication",
        "id": "slot koneksi yang tersisa dipakai untuk superuser bukan replikasi",
        "it": "i "
        "rimanenti "
        "slot "
        "di "
        "connessione "
        "sono "
        "riservati "
        "a "
        "connessioni "
        "di "
        "superutenti "
        "non "
        "di "
        "replica",
        "ja": "残りの接続スロットはレプリケーションユーザではないスーパユーザ用に予約されています",
        "ko": "남은 연결 슬롯은 non-replication 슈퍼유저 연결용으로 남겨 놓았음",
        "pl": "pozostałe "
        "gniazda "
        "połączeń "
        "są "
        "zarezerwowane "
        "dla "
        "niereplikacyjnych "
        "połączeń "
        "superużytkowników",
        "pt_BR": "lacunas "
        "de "
        "conexão "
        "remanescentes "
        "são "
        "reservadas "
        "para "
        "conexões "
        "de "
        "super-usuário "
        "que "
        "não "
        "sejam "
        "usadas "
        "para "
        "replicação",
        "ru": "оставшиеся "
        "слоты "
        "подключений "
        "зарезервированы "
        "для "
        "подключений "
        "суперпользователя "
        "(не "
        "для "
        "репликации)",
        "sv": "resterande "
        "anslutningsslottar "
        "är "
        "reserverade "
        "för "
        "superuser-anslutningar "
        "utan "
        "replikering",
        "tr": "kalan bağlantı sayısı, replikasyon dışındaki superuser bağlantıları için ayrıldı",
        "uk": "слоти "
        "підключень, "
        "які "
        "залишились, "
        "зарезервовані "
        "для "
        "підключень "
        "суперкористувача "
        "(не "
        "для "
        "реплікації)",
        "zh_CN": "已保留的连接位置为执行非复制请求的超级用户预留",
    },
    "number of requested standby connections exceeds max_wal_senders (currently %d)": {
        "de": "Anzahl "
        "angeforderter "
        "Standby-Verbindungen "
        "überschreitet "
        "max_wal_senders "
        "(aktuell "
        "%d)",
        "es": "la cantidad de conexiones standby pedidas excede max_wal_senders (actualmente %d)",
        "fr": "le "
        "nombre "
        "de "
        "connexions "
        "demandées "
        "par "
        "le "
        "serveur "
        "en "
        "attente "
        "dépasse\n"
        "max_wal_senders "
        "(actuellement "
        "%d)",
        "id": "jumlah koneksi siaga yang diminta melebihi max_wal_senders (saat ini %d)",
        "it": "il "
        "numero "
        "di "
        "richieste "
        "di "
        "connessioni "
        "di "
        "standby "
        "supera "
        "max_wal_senders "
        "(attualmente "
        "%d)",
        "ja": "要求されたスタンバイ接続が max_wal_senders を超えています（現在は %d）",
        "ko": "대기 서버 연결 수가 max_wal_senders 설정값(현재 %d)을 초과했습니다",
        "pl": "liczba żądanych połączeń gotowości przekracza max_wal_senders (obecnie %d)",
        "pt_BR": "número "
        "de "
        "conexões "
        "dos "
        "servidores "
        "em "
        "espera "
        "solicitadas "
        "excedeu "
        "max_wal_senders "
        "(atualmente "
        "%d)",
        "ru": "число "
        "запрошенных "
        "подключений "
        "резервных "
        "серверов "
        "превосходит "
        "max_wal_senders "
        "(сейчас: "
        "%d)",
        "sv": "antalet efterfrågade standby-anslutningar överskrider max_wal_senders (nu %d)",
        "tr": "talep "
        "edilen "
        "yedek "
        "(standby) "
        "bağlantı "
        "sayısı "
        "max_wal_senders "
        "değerini "
        "(şu "
        "anda "
        "%d) "
        "aşmakta",
        "uk": "кількість "
        "запитаних "
        "підключень "
        "резервного "
        "серверу "
        "перевищує "
        "max_wal_senders "
        "(поточна "
        "%d)",
        "zh_CN": "所要求的备用服务器连接数超过了参数max_wal_senders的值(当前设置为%d)",
    },
}
