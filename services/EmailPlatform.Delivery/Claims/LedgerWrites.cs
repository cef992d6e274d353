using EmailPlatform.Delivery.Storage;
using EmailPlatform.ServiceDefaults.Storage;
using Npgsql;
using NpgsqlTypes;

namespace EmailPlatform.Delivery.Claims;

/// <summary>
/// The two writes every delivered message makes on PostgreSQL, group-committed across the worker's concurrent messages
/// (<see cref="GroupCommit{TRequest,TResult}"/>): the fresh claim (one <c>INSERT … ON CONFLICT DO NOTHING</c> for all
/// waiting claims) and the recorded outcome (one conditional <c>UPDATE … FROM unnest</c> for all waiting outcomes). Each
/// caller still returns only after the statement holding its rows committed, and learns exactly what happened to its
/// own rows: which recipients its claim inserted, whether its outcome found the version it claimed. Under load one
/// round trip and one WAL flush serve many messages instead of two per message.
/// </summary>
internal sealed class LedgerWrites : IAsyncDisposable
{
    /// <summary>Messages in one statement.</summary>
    private const int MaxBatch = 128;

    /// <summary>Statements in flight per kind of write: one commits while the next gathers.</summary>
    private const int Writers = 2;

    // Rows go in sorted by key, so two statements inserting the same keys (a command duplicated across workers) take
    // their locks in the same order and cannot deadlock.
    private const string InsertClaimsSql = """
        INSERT INTO deliveries (email_id, recipient, state, attempt, claim_id, due_at, first_attempt_at, expires_at, updated_at, version)
        SELECT u.email_id, u.recipient, @state, 1, u.claim_id, u.due_at, u.now, u.expires_at, u.now, 1
        FROM unnest(@email_ids, @recipients, @claim_ids, @due_ats, @nows, @expires_ats)
            AS u(email_id, recipient, claim_id, due_at, now, expires_at)
        ORDER BY u.email_id, u.recipient
        ON CONFLICT (email_id, recipient) DO NOTHING
        RETURNING claim_id, recipient
        """;

    private const string RecordOutcomesSql = """
        UPDATE deliveries AS d SET state = u.state, attempt = u.attempt, claim_id = u.claim_id, due_at = u.due_at,
            relay = u.relay, reply_code = u.reply_code, enhanced_code = u.enhanced_code, reply_text = u.reply_text,
            reason = u.reason, outcome_event_id = u.outcome_event_id, outcome_at = u.outcome_at,
            updated_at = u.updated_at, version = u.version
        FROM unnest(@email_ids, @recipients, @states, @attempts, @claim_ids, @due_ats, @relays, @reply_codes,
                @enhanced_codes, @reply_texts, @reasons, @outcome_event_ids, @outcome_ats, @updated_ats, @versions,
                @stored_versions)
            AS u(email_id, recipient, state, attempt, claim_id, due_at, relay, reply_code, enhanced_code, reply_text,
                reason, outcome_event_id, outcome_at, updated_at, version, stored_version)
        WHERE d.email_id = u.email_id AND d.recipient = u.recipient AND d.version = u.stored_version
        RETURNING d.email_id, d.recipient
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly GroupCommit<FreshClaim, IReadOnlyList<string>> _claims;
    private readonly GroupCommit<OutcomeWrite, bool> _outcomes;

    public LedgerWrites(string connectionString)
    {
        _dataSource = NpgsqlDataSource.Create(connectionString);
        _claims = new GroupCommit<FreshClaim, IReadOnlyList<string>>(InsertClaimsAsync, MaxBatch, Writers);
        _outcomes = new GroupCommit<OutcomeWrite, bool>(RecordOutcomesAsync, MaxBatch, Writers);
    }

    /// <summary>Inserts a claimed record (attempt 1) for each recipient that has none yet; returns those it inserted.</summary>
    public Task<IReadOnlyList<string>> ClaimFreshAsync(FreshClaim claim) => _claims.CommitAsync(claim);

    /// <summary>Writes <paramref name="write"/>'s record if it still has the version its claim read; false if it has not.</summary>
    public Task<bool> RecordOutcomeAsync(OutcomeWrite write) => _outcomes.CommitAsync(write);

    public async ValueTask DisposeAsync()
    {
        await _claims.DisposeAsync();
        await _outcomes.DisposeAsync();
        await _dataSource.DisposeAsync();
    }

    private async Task<IReadOnlyList<string>[]> InsertClaimsAsync(IReadOnlyList<FreshClaim> all)
    {
        // Two claims of one email in one batch (a duplicated command on one worker): only the first goes in, and the
        // others insert nothing, exactly as if their own statement had come second. Both in one statement could split
        // the email's recipients between them.
        var seen = new HashSet<Guid>();
        var batch = all.Where(c => seen.Add(c.EmailId)).ToList();
        var count = batch.Sum(c => c.Recipients.Count);
        var emailIds = new Guid[count];
        var recipients = new string[count];
        var claimIds = new Guid[count];
        var dueAts = new DateTime[count];
        var nows = new DateTime[count];
        var expiresAts = new DateTime[count];
        var i = 0;
        foreach (var claim in batch)
        {
            foreach (var recipient in claim.Recipients)
            {
                (emailIds[i], recipients[i], claimIds[i]) = (claim.EmailId, recipient, claim.ClaimId);
                (dueAts[i], nows[i], expiresAts[i]) = (claim.DueAt, claim.Now, claim.ExpiresAt);
                i++;
            }
        }

        await using var command = _dataSource.CreateCommand(InsertClaimsSql);
        command.Parameters.Add(new NpgsqlParameter<string>("state", DeliveryLedger.StateValue(DeliveryState.Sending)));
        command.Parameters.Add(Array("email_ids", NpgsqlDbType.Uuid, emailIds));
        command.Parameters.Add(Array("recipients", NpgsqlDbType.Varchar, recipients));
        command.Parameters.Add(Array("claim_ids", NpgsqlDbType.Uuid, claimIds));
        command.Parameters.Add(Array("due_ats", NpgsqlDbType.TimestampTz, dueAts));
        command.Parameters.Add(Array("nows", NpgsqlDbType.TimestampTz, nows));
        command.Parameters.Add(Array("expires_ats", NpgsqlDbType.TimestampTz, expiresAts));

        var inserted = new Dictionary<Guid, List<string>>(batch.Count);
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                var claimId = reader.GetGuid(0);
                if (!inserted.TryGetValue(claimId, out var mine))
                {
                    inserted[claimId] = mine = [];
                }

                mine.Add(reader.GetString(1));
            }
        }

        return all.Select(c => inserted.TryGetValue(c.ClaimId, out var mine) ? (IReadOnlyList<string>)mine : []).ToArray();
    }

    private async Task<bool[]> RecordOutcomesAsync(IReadOnlyList<OutcomeWrite> batch)
    {
        if (batch.Select(w => (w.Record.EmailId, w.Record.Recipient)).Distinct().Count() != batch.Count)
        {
            // One statement updates a row once: two writes of one record (never two live claims, but still) go alone.
            throw new InvalidOperationException("A batch of outcome writes holds the same record twice.");
        }

        var records = batch.Select(w => w.Record).ToArray();
        await using var command = _dataSource.CreateCommand(RecordOutcomesSql);
        command.Parameters.Add(Array("email_ids", NpgsqlDbType.Uuid, records.Select(r => r.EmailId).ToArray()));
        command.Parameters.Add(Array("recipients", NpgsqlDbType.Varchar, records.Select(r => r.Recipient).ToArray()));
        command.Parameters.Add(Array("states", NpgsqlDbType.Varchar, records.Select(r => DeliveryLedger.StateValue(r.State)).ToArray()));
        command.Parameters.Add(Array("attempts", NpgsqlDbType.Integer, records.Select(r => r.Attempt).ToArray()));
        command.Parameters.Add(Array("claim_ids", NpgsqlDbType.Uuid, records.Select(r => r.ClaimId).ToArray()));
        command.Parameters.Add(Array("due_ats", NpgsqlDbType.TimestampTz, records.Select(r => r.DueAt).ToArray()));
        command.Parameters.Add(Array("relays", NpgsqlDbType.Varchar, records.Select(r => r.Relay).ToArray()));
        command.Parameters.Add(Array("reply_codes", NpgsqlDbType.Integer, records.Select(r => r.ReplyCode).ToArray()));
        command.Parameters.Add(Array("enhanced_codes", NpgsqlDbType.Varchar, records.Select(r => r.EnhancedCode).ToArray()));
        command.Parameters.Add(Array("reply_texts", NpgsqlDbType.Text, records.Select(r => r.ReplyText).ToArray()));
        command.Parameters.Add(Array("reasons", NpgsqlDbType.Text, records.Select(r => r.Reason).ToArray()));
        command.Parameters.Add(Array("outcome_event_ids", NpgsqlDbType.Uuid, records.Select(r => r.OutcomeEventId).ToArray()));
        command.Parameters.Add(Array("outcome_ats", NpgsqlDbType.TimestampTz, records.Select(r => r.OutcomeAt).ToArray()));
        command.Parameters.Add(Array("updated_ats", NpgsqlDbType.TimestampTz, records.Select(r => r.UpdatedAt).ToArray()));
        command.Parameters.Add(Array("versions", NpgsqlDbType.Integer, records.Select(r => r.Version).ToArray()));
        command.Parameters.Add(Array("stored_versions", NpgsqlDbType.Integer, batch.Select(w => w.StoredVersion).ToArray()));

        var updated = new HashSet<(Guid, string)>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                updated.Add((reader.GetGuid(0), reader.GetString(1)));
            }
        }

        return records.Select(r => updated.Contains((r.EmailId, r.Recipient))).ToArray();
    }

    private static NpgsqlParameter<T[]> Array<T>(string name, NpgsqlDbType elementType, T[] values) =>
        new(name, values) { NpgsqlDbType = NpgsqlDbType.Array | elementType };
}

/// <summary>A claim of recipients that have no record yet, all at attempt 1.</summary>
internal sealed record FreshClaim(Guid EmailId, IReadOnlyList<string> Recipients, Guid ClaimId, DateTime Now, DateTime DueAt, DateTime ExpiresAt);

/// <summary>A recorded outcome to write over the record a claim read at <paramref name="StoredVersion"/>.</summary>
internal sealed record OutcomeWrite(DeliveryRecord Record, int StoredVersion);
