using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EmailPlatform.Contracts;
using EmailPlatform.Status.Recording;
using EmailPlatform.Status.Retention;
using EmailPlatform.Status.Storage;
using EmailPlatform.Status.Tests.Support;
using EmailPlatform.Status.Webhooks;
using MassTransit;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;

namespace EmailPlatform.Status.Tests.Retention;

/// <summary>
/// <c>DELETE /v1/recipients/{address}</c> where the address is hard to find: inside a group, only in a header, in its
/// punycode form, or in an email whose outcomes came before its details; and what it leaves of the other recipients.
/// </summary>
public sealed class RecipientErasureTests
{
    private const string Alice = "alice@example.com";
    private const string Bob = "bob@example.com";
    private const string Carol = "carol@example.com";
    private const string Dave = "dave@example.com";

    /// <summary>A 5.1.1 whose text quotes Bob, as Postfix words it.</summary>
    private static readonly SmtpReply QuotingBob = new(550, "5.1.1", $"5.1.1 <{Bob}>: Recipient address rejected: User unknown in virtual mailbox table");

    [Fact]
    public async Task ErasureReplacesAnAddressInsideAGroupAndKeepsTheGroupsOtherMembers()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        var emailId = Guid.NewGuid();

        // A raw send keeps a group as one entry of To.
        await api.RecordAsync(TestEvents.Accepted(emailId, to: [$"Friends: Alice <{Alice}>, {Bob};"]));

        var erased = await EraseAsync(client, Alice);

        Assert.Equal(1, erased.GetProperty("emails").GetInt32());
        var email = await GetEmailAsync(client, emailId);
        Assert.DoesNotContain(Alice, email.GetRawText(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal([$"Friends: {RecipientErasure.PlaceholderFor(Alice)}, {Bob};"], Strings(email.GetProperty("to")));
    }

    [Fact]
    public async Task ErasureFindsEmailsThatNameTheAddressOnlyInTheirHeaders()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        var (toOnly, inGroup, replyTo, untouched) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());

        // Raw sends whose headers name Alice but whose envelope holds only Bob, and a reply-to.
        await api.RecordAsync(
            TestEvents.Accepted(toOnly, to: [Alice]) with { Recipients = [Bob] },
            TestEvents.Accepted(inGroup, to: [Bob], cc: [$"Team: Alice <{Alice}>;"]) with { Recipients = [Bob] },
            TestEvents.Accepted(replyTo, to: [Bob], replyTo: [$"Alice <{Alice}>"]),
            TestEvents.Accepted(untouched, to: [Bob], replyTo: ["Support <support@example.com>"]));

        var erased = await EraseAsync(client, Alice);

        Assert.Equal(3, erased.GetProperty("emails").GetInt32());
        foreach (var id in new[] { toOnly, inGroup, replyTo })
        {
            var email = await GetEmailAsync(client, id);
            Assert.DoesNotContain(Alice, email.GetRawText(), StringComparison.OrdinalIgnoreCase);
            Assert.Equal(JsonValueKind.Null, email.GetProperty("html").ValueKind);
        }

        var other = await GetEmailAsync(client, untouched);
        Assert.Equal(["Support <support@example.com>"], Strings(other.GetProperty("reply_to")));
        Assert.NotEqual(JsonValueKind.Null, other.GetProperty("html").ValueKind);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TheMigrationFindsTheHeaderAddressesOfEmailsStoredBeforeIt(bool sqlite)
    {
        await using var store = sqlite ? await StatusStore.SqliteAsync("BulkCommands") : await StatusStore.PostgresAsync("BulkCommands");
        var emailId = Guid.NewGuid();
        await using (var db = store.NewEarlierContext())
        {
            // A raw send as the recorder stored it then: its headers as MimeKit wrote them, its envelope as recipients.
            db.Emails.Add(new EmailRecord
            {
                Id = emailId, AcceptedAt = DateTime.UtcNow, Html = "<p>Hello</p>",
                To = ["undisclosed-recipients:;", $"Friends: Alice <{Alice}>, \"Smith, Bob\" <Bob@Example.com>;", Carol],
                ReplyTo = [$"Dave <{Dave}>"],
                Recipients = [new RecipientRecord { Address = Bob, Kind = "to" }, new RecipientRecord { Address = Carol, Kind = "to" }],
            });
            await db.SaveChangesAsync();
        }

        await store.MigrateAsync();

        await using (var db = store.NewContext())
        {
            Assert.Equal([Alice, Dave], (await db.HeaderAddresses.Where(h => h.EmailId == emailId).Select(h => h.Address).ToListAsync()).Order());
        }

        var erasure = Assert.IsType<Ok<ErasureResponse>>((await EraseAsync(store, Alice)).Result);

        Assert.Equal(1, erasure.Value!.Emails);
        var email = await store.EmailAsync(emailId);
        Assert.Equal(["undisclosed-recipients:;", $"Friends: {RecipientErasure.PlaceholderFor(Alice)}, \"Smith, Bob\" <Bob@Example.com>;", Carol], email.To);
        Assert.Null(email.Html);
        await using (var db = store.NewContext())
        {
            Assert.Equal([Dave], await db.HeaderAddresses.Where(h => h.EmailId == emailId).Select(h => h.Address).ToListAsync());
        }
    }

    [Fact]
    public async Task DetailsArrivingAfterTheErasureOfAGroupsMemberKeepTheErasure()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();
        await store.RecordAsync(TestEvents.Delivered(emailId, Alice));
        await EraseAsync(store, Alice);

        await store.RecordAsync(TestEvents.Accepted(emailId, to: [$"Friends: Alice <{Alice}>, {Bob};"]) with { Recipients = [Alice, Bob] });

        var email = await store.EmailAsync(emailId);
        var placeholder = RecipientErasure.PlaceholderFor(Alice);
        Assert.Equal([$"Friends: {placeholder}, {Bob};"], email.To);
        Assert.Equal([(Bob, "to"), (placeholder, "to")], email.Recipients.Select(r => (r.Address, r.Kind!)).Order());
    }

    [Fact]
    public async Task ThePunycodeFormOfAnAddressIsTheSameAddressToErasureSuppressionsAndTheList()
    {
        const string Unicode = "user@bücher.de";
        const string Punycode = "user@xn--bcher-kva.de";
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        var emailId = Guid.NewGuid();

        // The ingress parses addresses with MimeKit, which decodes the domain: the envelope, the workers' outcomes and
        // so the recipient rows have the Unicode form; the To header keeps what the client wrote.
        await api.RecordAsync(TestEvents.Accepted(emailId, to: [Punycode]) with { Recipients = [Unicode] }, TestEvents.Delivered(emailId, Unicode));

        using (var put = await client.PutAsJsonAsync(new Uri($"/v1/suppressions/{Punycode}", UriKind.Relative), new { reason = "Asked to stop" }))
        {
            var body = await put.Content.ReadAsStringAsync();
            Assert.True(put.StatusCode == HttpStatusCode.OK, body);
            Assert.Equal(Unicode, JsonDocument.Parse(body).RootElement.GetProperty("email").GetString());
        }

        foreach (var form in new[] { Unicode, Punycode, "User@XN--BCHER-KVA.DE" })
        {
            using var suppressed = await client.GetAsync(new Uri($"/v1/suppressions/{Uri.EscapeDataString(form)}", UriKind.Relative));
            Assert.True(suppressed.StatusCode == HttpStatusCode.OK, form);
            var list = await GetJsonAsync(client, $"/v1/emails?recipient={Uri.EscapeDataString(form)}");
            Assert.Equal([emailId], list.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("id").GetGuid()));
        }

        var erased = await EraseAsync(client, Punycode);

        Assert.Equal((1, 1, 1), (erased.GetProperty("emails").GetInt32(), erased.GetProperty("events").GetInt32(), erased.GetProperty("suppressions").GetInt32()));
        var email = await GetEmailAsync(client, emailId);
        Assert.DoesNotContain("user@", email.GetRawText(), StringComparison.Ordinal);
        Assert.Equal([RecipientErasure.PlaceholderFor(Unicode)], Strings(email.GetProperty("to")));
        var audit = Assert.Single(await api.WithStoreAsync(db => db.AuditRecords.AsNoTracking().ToListAsync()));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Unicode))), audit.Subject);
    }

    [Fact]
    public async Task OutcomesOfAnAddressErasedBeforeTheEmailsDetailsStayOnItsPlaceholder()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();
        var placeholder = RecipientErasure.PlaceholderFor(Alice);

        // Two outcomes overtake the details, and the address is erased between them.
        await store.RecordAsync(TestEvents.Deferred(emailId, Alice, attempt: 1, nextAttemptAt: DateTimeOffset.UtcNow.AddMinutes(1)));
        await EraseAsync(store, Alice);
        await store.RecordAsync(TestEvents.Delivered(emailId, Alice, attempt: 2));

        var stub = await store.EmailAsync(emailId);
        var only = Assert.Single(stub.Recipients);
        Assert.Equal((placeholder, EmailState.Delivered, 2), (only.Address, only.State, only.Attempt));

        await store.RecordAsync(TestEvents.Accepted(emailId, to: [Alice]));

        var email = await store.EmailAsync(emailId);
        Assert.Equal(EmailState.Delivered, email.State);
        Assert.Equal([placeholder], email.To);
        Assert.Equal([placeholder], email.Recipients.Select(r => r.Address));
        Assert.DoesNotContain(await store.EventsAsync(emailId), e => e.Recipient == Alice);
        Assert.IsType<Ok<ErasureResponse>>((await EraseAsync(store, Alice)).Result);
    }

    /// <summary>
    /// Emails accepted before the erasure but recorded here only after it (their accepts were in the ingress's outbox
    /// through a broker outage, or behind a backlog): one whose details come first, one whose outcome does. Both are
    /// recorded with the placeholder, bodies and webhooks included; an email accepted after the erasure keeps the address.
    /// They used to bring the address back, in full.
    /// </summary>
    [Fact]
    public async Task EmailsAcceptedBeforeTheErasureButRecordedAfterItAreRecordedErasedAndLaterOnesAreNot()
    {
        await using var store = await StatusStore.PostgresAsync();
        await SubscribeAsync(store, "email.queued", "email.delivered", "email.bounced");

        // Ids as the ingress makes them (version 7), a minute before the erasure.
        var (detailsFirst, outcomeFirst) = (Guid.CreateVersion7(DateTimeOffset.UtcNow.AddMinutes(-1)), Guid.CreateVersion7(DateTimeOffset.UtcNow.AddMinutes(-1)));
        var acceptedBefore = DateTimeOffset.UtcNow.AddMinutes(-1);
        var erasure = Assert.IsType<Ok<ErasureResponse>>((await EraseAsync(store, Bob)).Result).Value!;
        Assert.Equal(0, erasure.Emails);

        await store.RecordAsync(TestEvents.Accepted(detailsFirst, to: [Alice, $"Bob <{Bob}>"]) with { AcceptedAt = acceptedBefore });
        await store.RecordAsync(TestEvents.Delivered(detailsFirst, Alice));
        await store.RecordAsync(TestEvents.Bounced(detailsFirst, Bob) with { Reply = QuotingBob });
        await store.RecordAsync(TestEvents.Delivered(outcomeFirst, Bob));
        await store.RecordAsync(TestEvents.Accepted(outcomeFirst, to: [Bob], cc: [Carol]) with { AcceptedAt = acceptedBefore });
        await store.RecordAsync(TestEvents.Delivered(outcomeFirst, Carol));
        var later = Guid.CreateVersion7();
        await store.RecordAsync(TestEvents.Accepted(later, to: [Bob]) with { AcceptedAt = DateTimeOffset.UtcNow.AddSeconds(1) });

        var placeholder = RecipientErasure.PlaceholderFor(Bob);
        var first = await store.EmailAsync(detailsFirst);
        Assert.Equal([Alice, placeholder], first.To);
        Assert.Equal([(Alice, EmailState.Delivered), (placeholder, EmailState.Bounced)], first.Recipients.Select(r => (r.Address, r.State)).Order());
        Assert.Null(first.Html);
        var second = await store.EmailAsync(outcomeFirst);
        Assert.Equal([placeholder], second.To);
        Assert.Equal(EmailState.Delivered, second.State);
        Assert.Equal([Carol, placeholder], second.Recipients.Select(r => r.Address).Order());
        await using (var db = store.NewContext())
        {
            await AssertNoneNamesBobAsync(db, detailsFirst, outcomeFirst);
            Assert.False(await db.HeaderAddresses.AnyAsync(h => h.Address == Bob));
            Assert.False(await db.Suppressions.AnyAsync(s => s.Address == Bob));
        }

        Assert.Equal([Bob], (await store.EmailAsync(later)).Recipients.Select(r => r.Address));
    }

    /// <summary>
    /// A recorder batch that began before the erasure remembered the address may not have seen it: the erasure waits for
    /// such batches to commit (their rows are then there for it to find) before it looks for the emails.
    /// </summary>
    [Fact]
    public async Task AnErasureWaitsForTheRecorderBatchesThatBeganBeforeIt()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.CreateVersion7();
        Task<Results<Ok<ErasureResponse>, ValidationProblem>> erasure;
        await using (var batch = store.NewContext())
        {
            await using var transaction = await batch.Database.BeginTransactionAsync();
            await RecorderBatches.EnterAsync(batch, CancellationToken.None);

            erasure = EraseAsync(store, Bob);
            await Task.Delay(TimeSpan.FromSeconds(2));
            Assert.False(erasure.IsCompleted, "the erasure did not wait for the batch");

            // What the batch records, having read the erasures before there was this one.
            batch.Emails.Add(new EmailRecord { Id = emailId, State = EmailState.Delivered });
            batch.Recipients.Add(new RecipientRecord { EmailId = emailId, Address = Bob, Kind = "to", State = EmailState.Delivered, Attempt = 1, UpdatedAt = DateTime.UtcNow });
            await batch.SaveChangesAsync();
            await transaction.CommitAsync();
        }

        var erased = Assert.IsType<Ok<ErasureResponse>>((await erasure.WaitAsync(TimeSpan.FromSeconds(30))).Result).Value!;
        Assert.Equal(1, erased.Emails);
        Assert.Equal([RecipientErasure.PlaceholderFor(Bob)], (await store.EmailAsync(emailId)).Recipients.Select(r => r.Address));
    }

    /// <summary>
    /// An erasure that failed part way after it remembered the address can leave a stub (an outcome recorded before it)
    /// naming the address. Its details, arriving next, keep that recipient as it is rather than add the placeholder beside
    /// it (the email would wait on the placeholder for good); the same erasure made again erases it.
    /// </summary>
    [Fact]
    public async Task DetailsOfAStubStillNamingAnErasedAddressKeepItUntilTheErasureIsMadeAgain()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.CreateVersion7(DateTimeOffset.UtcNow.AddMinutes(-1));
        await store.RecordAsync(TestEvents.Delivered(emailId, Bob));
        await using (var db = store.NewContext())
        {
            db.ErasedAddresses.Add(new ErasedAddressRecord { Hash = RecipientErasure.HashOf(Bob), ErasedAt = DateTime.UtcNow });
            await db.SaveChangesAsync();
        }

        await store.RecordAsync(TestEvents.Accepted(emailId, to: [Bob]) with { AcceptedAt = DateTimeOffset.UtcNow.AddMinutes(-1) });

        var email = await store.EmailAsync(emailId);
        Assert.Equal((EmailState.Delivered, Bob), (email.State, Assert.Single(email.Recipients).Address));
        Assert.IsType<Ok<ErasureResponse>>((await EraseAsync(store, Bob)).Result);
        email = await store.EmailAsync(emailId);
        Assert.Equal((EmailState.Delivered, RecipientErasure.PlaceholderFor(Bob)), (email.State, Assert.Single(email.Recipients).Address));
    }

    [Fact]
    public async Task ErasingAnAddressWhosePlaceholderIsAlreadyARecipientMergesThemKeepingTheFurtherState()
    {
        await using var store = await StatusStore.PostgresAsync();
        var emailId = Guid.NewGuid();
        var placeholder = RecipientErasure.PlaceholderFor(Alice);
        await store.RecordAsync(TestEvents.Accepted(emailId, to: [Alice, Bob]));
        await store.RecordAsync(TestEvents.Delivered(emailId, Bob));
        await store.RecordAsync(TestEvents.Delivered(emailId, Alice, attempt: 2));

        // What an earlier erasure could leave: the address back next to its placeholder, which is behind it.
        await using (var db = store.NewContext())
        {
            db.Recipients.Add(new RecipientRecord
            {
                EmailId = emailId, Address = placeholder, Kind = "to", State = EmailState.Deferred, Attempt = 1, UpdatedAt = DateTime.UtcNow,
            });
            await db.SaveChangesAsync();
        }

        var erasure = await EraseAsync(store, Alice);

        Assert.IsType<Ok<ErasureResponse>>(erasure.Result);
        var email = await store.EmailAsync(emailId);
        Assert.Equal(EmailState.Delivered, email.State);
        Assert.Equal([Bob, placeholder], email.Recipients.Select(r => r.Address).Order());
        var merged = email.Recipients.Single(r => r.Address == placeholder);
        Assert.Equal((EmailState.Delivered, 2, "to"), (merged.State, merged.Attempt, merged.Kind));
    }

    [Fact]
    public async Task ErasingOneRecipientKeepsTheOtherRecipientsWebhooksWithTheAddressReplacedInTheirBodies()
    {
        await using var store = await StatusStore.PostgresAsync();
        await SubscribeAsync(store, "email.delivered", "email.deferred");

        var emailId = Guid.NewGuid();
        await store.RecordAsync(TestEvents.Accepted(emailId, to: [$"Carol <{Carol}>", Dave]));
        await store.RecordAsync(TestEvents.Deferred(emailId, Carol));
        await store.RecordAsync(TestEvents.Delivered(emailId, Dave));

        var erasure = Assert.IsType<Ok<ErasureResponse>>((await EraseAsync(store, Carol)).Result);

        Assert.Equal(1, erasure.Value!.WebhookDeliveries);
        await using var check = store.NewContext();
        var kept = Assert.Single(await check.WebhookDeliveries.AsNoTracking().ToListAsync());
        Assert.Equal("email.delivered", kept.EventType);
        Assert.DoesNotContain("carol", kept.Payload, StringComparison.OrdinalIgnoreCase);
        var data = JsonDocument.Parse(kept.Payload).RootElement.GetProperty("data");
        Assert.Equal(Dave, data.GetProperty("recipient").GetString());
        Assert.Equal([RecipientErasure.PlaceholderFor(Carol), Dave], Strings(data.GetProperty("to")));
    }

    /// <summary>
    /// An email's subject and metadata values quote the recipient's address (a password reset "for bob@…", a
    /// <c>user_email</c> key), in an email recorded before the erasure and in one accepted before it but recorded after.
    /// The erasure left both as they were: the address stayed in the email, in its webhooks' bodies, and a metadata
    /// filter on it still found the emails.
    /// </summary>
    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task ErasureReplacesTheAddressWhereTheSubjectAndMetadataQuoteItAndTheMetadataFilterNoLongerFindsIt(string provider)
    {
        await using var store = provider == "postgres" ? await StatusStore.PostgresAsync() : await StatusStore.SqliteAsync();
        await SubscribeAsync(store, "email.delivered");

        EmailAccepted Quoting(Guid id) => TestEvents.Accepted(id, to: [Bob, Dave]) with
        {
            Subject = $"Reset the password for {Bob.ToUpperInvariant()}",
            Metadata = new Dictionary<string, string> { ["user_email"] = Bob, ["plan"] = "pro" },
            AcceptedAt = DateTimeOffset.UtcNow.AddMinutes(-1),
        };
        var (recorded, inFlight) = (Guid.CreateVersion7(DateTimeOffset.UtcNow.AddMinutes(-1)), Guid.CreateVersion7(DateTimeOffset.UtcNow.AddMinutes(-1)));
        await store.RecordAsync(Quoting(recorded));
        await store.RecordAsync(TestEvents.Delivered(recorded, Dave));

        Assert.Equal(1, Assert.IsType<Ok<ErasureResponse>>((await EraseAsync(store, Bob)).Result).Value!.Emails);
        await store.RecordAsync(Quoting(inFlight));
        await store.RecordAsync(TestEvents.Delivered(inFlight, Dave));

        var placeholder = RecipientErasure.PlaceholderFor(Bob);
        foreach (var id in new[] { recorded, inFlight })
        {
            var email = await store.EmailAsync(id);
            Assert.Equal($"Reset the password for {placeholder}", email.Subject);
            Assert.Equal(new Dictionary<string, string> { ["user_email"] = placeholder, ["plan"] = "pro" }, email.Metadata);
        }

        await using var check = store.NewContext();
        var labels = await check.EmailLabels.AsNoTracking().Where(l => l.Kind == EmailLabelRecord.MetadataKind).ToListAsync();
        Assert.Equal([(inFlight, "plan", "pro"), (inFlight, "user_email", placeholder), (recorded, "plan", "pro"), (recorded, "user_email", placeholder)],
            labels.Select(l => (l.EmailId, l.Name, l.Value)).OrderBy(l => l.EmailId == recorded).ThenBy(l => l.Name));
        var payloads = await check.WebhookDeliveries.AsNoTracking().Select(d => d.Payload).ToListAsync();
        Assert.Equal(2, payloads.Count);
        Assert.All(payloads, payload => Assert.DoesNotContain(Bob, payload, StringComparison.OrdinalIgnoreCase));

        // An erasure made by an earlier version left the subject and the metadata as they were: made again, it finds the
        // email by its placeholder and erases them.
        await using (var db = store.NewContext())
        {
            var earlier = await db.Emails.SingleAsync(e => e.Id == recorded);
            (earlier.Subject, earlier.Metadata) = (Quoting(recorded).Subject, new Dictionary<string, string>(Quoting(recorded).Metadata));
            await db.EmailLabels.Where(l => l.EmailId == recorded && l.Name == "user_email").ExecuteUpdateAsync(u => u.SetProperty(l => l.Value, Bob));
            await db.SaveChangesAsync();
        }

        Assert.Equal(1, Assert.IsType<Ok<ErasureResponse>>((await EraseAsync(store, Bob)).Result).Value!.Emails);
        var again = await store.EmailAsync(recorded);
        Assert.Equal(($"Reset the password for {placeholder}", placeholder), (again.Subject, again.Metadata["user_email"]));
        await using var last = store.NewContext();
        Assert.False(await last.EmailLabels.AnyAsync(l => l.Value == Bob));
    }

    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task AnAddressInManyEmailsIsErasedInBatchesEachInATransactionOfItsOwn(string provider)
    {
        await using var store = provider == "postgres" ? await StatusStore.PostgresAsync() : await StatusStore.SqliteAsync();
        var emailIds = Enumerable.Range(0, 5).Select(_ => Guid.NewGuid()).ToList();
        foreach (var emailId in emailIds)
        {
            await store.RecordAsync(TestEvents.Accepted(emailId, to: [Alice, Bob]));
            await store.RecordAsync(TestEvents.Delivered(emailId, Alice));
        }

        // Only in a header of a sixth (a Cc the client named but did not send to): found through header_addresses.
        var headerOnly = Guid.NewGuid();
        await store.RecordAsync(TestEvents.Accepted(headerOnly, to: [Bob], cc: [Alice]) with { Recipients = [Bob] });
        var transactions = new TransactionCount();

        await using (var db = store.NewContext(transactions))
        {
            var result = await RecipientErasure.EraseInBatchesAsync(
                Alice, new DefaultHttpContext(), db, TimeProvider.System, NullLogger<ErasureResponse>.Instance, batchSize: 2, CancellationToken.None);

            var erasure = Assert.IsType<Ok<ErasureResponse>>(result.Result).Value!;
            Assert.Equal((6, 5), (erasure.Emails, erasure.Events));
        }

        // Three batches of two, then the last transaction with the suppression and the audit record (the look that finds
        // nothing more commits nothing); before them, on PostgreSQL, the one that waits for the recorder's batches.
        Assert.Equal(provider == "postgres" ? 5 : 4, transactions.Committed);
        foreach (var emailId in emailIds.Append(headerOnly))
        {
            var email = await store.EmailAsync(emailId);
            Assert.DoesNotContain(Alice, string.Join(",", email.To.Concat(email.Cc).Concat(email.Recipients.Select(r => r.Address))), StringComparison.Ordinal);
            Assert.Null(email.Html);
        }

        await using var check = store.NewContext();
        Assert.Equal(1, await check.AuditRecords.CountAsync(a => a.Action == RecipientErasure.Action));
        Assert.False(await check.HeaderAddresses.AnyAsync(h => h.Address == Alice));
    }

    [Fact]
    public async Task ErasureReplacesTheAddressWhereTheReasonsOfItsEmailsQuoteIt()
    {
        await using var api = await StatusApi.StartAsync();
        using var client = api.CreateClient();
        var (bounced, suppressed) = (Guid.NewGuid(), Guid.NewGuid());

        // The relay quotes Bob in its refusal; the bounce suppresses him with that text as the reason, which the next send
        // to him is recorded with.
        await api.RecordAsync(
            TestEvents.Accepted(bounced, to: [Alice, Bob]),
            TestEvents.Bounced(bounced, Bob) with { Reply = QuotingBob },
            TestEvents.Delivered(bounced, Alice));
        var reason = await api.WithStoreAsync(db => db.Suppressions.Where(s => s.Address == Bob).Select(s => s.Reason).SingleAsync());
        Assert.Contains($"<{Bob}>", reason, StringComparison.Ordinal);
        await api.RecordAsync(
            TestEvents.Accepted(suppressed, to: [Alice, Bob]),
            new EmailSuppressed(NewId.NextGuid(), suppressed, Bob, reason, DateTimeOffset.UtcNow),
            TestEvents.Delivered(suppressed, Alice));
        Assert.Contains(Bob, (await GetEmailAsync(client, suppressed)).GetRawText(), StringComparison.Ordinal);

        await EraseAsync(client, Bob);

        var placeholder = RecipientErasure.PlaceholderFor(Bob);
        foreach (var emailId in new[] { bounced, suppressed })
        {
            var email = await GetEmailAsync(client, emailId);
            Assert.DoesNotContain(Bob, email.GetRawText(), StringComparison.OrdinalIgnoreCase);
        }

        await api.WithStoreAsync(async db =>
        {
            await AssertNoneNamesBobAsync(db, bounced, suppressed);
            var erased = await db.Recipients.AsNoTracking().SingleAsync(r => r.EmailId == suppressed && r.Address == placeholder);
            Assert.Equal((EmailState.Suppressed, true), (erased.State, erased.Reason!.Contains($"<{placeholder}>", StringComparison.Ordinal)));
            return 0;
        });
    }

    [Theory]
    [InlineData("postgres")]
    [InlineData("sqlite")]
    public async Task ReasonsQuotingAnErasedAddressLoseItInTheRowsAndWebhooksOfItsEmailsAndWhenRecordedAfterTheErasure(string provider)
    {
        await using var store = provider == "postgres" ? await StatusStore.PostgresAsync() : await StatusStore.SqliteAsync();
        await SubscribeAsync(store, "email.delivered", "email.deferred", "email.bounced", "email.failed", "email.suppressed");

        var (bounced, suppressed, inFlight) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        await store.RecordAsync(TestEvents.Accepted(bounced, to: [Alice, Bob]));
        await store.RecordAsync(TestEvents.Bounced(bounced, Bob) with { Reply = QuotingBob });
        // Another recipient's reason can quote him too (a relay refusing the transaction after his RCPT TO); its webhook
        // delivery is kept, and written again.
        await store.RecordAsync(TestEvents.Deferred(bounced, Alice) with { Reason = $"Refused after RCPT TO:<{Bob.ToUpperInvariant()}>" });
        await store.RecordAsync(TestEvents.Accepted(suppressed, to: [Bob]));
        await store.RecordAsync(new EmailSuppressed(NewId.NextGuid(), suppressed, Bob, $"Hard bounce 550 5.1.1: 5.1.1 <{Bob}>: Recipient address rejected", DateTimeOffset.UtcNow));
        await store.RecordAsync(TestEvents.Accepted(inFlight, to: [Bob]));
        await store.RecordAsync(TestEvents.Deferred(inFlight, Bob));

        Assert.IsType<Ok<ErasureResponse>>((await EraseAsync(store, Bob)).Result);

        // An outcome of the email still in flight, after the erasure: recorded on the placeholder, its reason without him.
        await store.RecordAsync(new EmailFailed(
            NewId.NextGuid(), inFlight, Bob, "relay-a", 2, QuotingBob, $"Gave up after 550 5.1.1 <{Bob}>: Recipient address rejected", DateTimeOffset.UtcNow));

        var placeholder = RecipientErasure.PlaceholderFor(Bob);
        await using var check = store.NewContext();
        await AssertNoneNamesBobAsync(check, bounced, suppressed, inFlight);
        var late = await check.Recipients.AsNoTracking().SingleAsync(r => r.EmailId == inFlight && r.Address == placeholder);
        Assert.Equal((EmailState.Failed, $"Gave up after 550 5.1.1 <{placeholder}>: Recipient address rejected"), (late.State, late.Reason));
        var deferred = await check.WebhookDeliveries.AsNoTracking().SingleAsync(d => d.EmailId == bounced && d.EventType == "email.deferred");
        Assert.Equal($"Refused after RCPT TO:<{placeholder}>", JsonDocument.Parse(deferred.Payload).RootElement.GetProperty("data").GetProperty("reason").GetString());
        var failed = await check.WebhookDeliveries.AsNoTracking().SingleAsync(d => d.EmailId == inFlight && d.EventType == "email.failed");
        Assert.Contains(placeholder, failed.Payload, StringComparison.Ordinal);
    }

    /// <summary>No recipient, event or webhook delivery of the emails names Bob, in any case.</summary>
    private static async Task AssertNoneNamesBobAsync(StatusDbContext db, params Guid[] emailIds)
    {
        var recipients = await db.Recipients.AsNoTracking().Where(r => emailIds.Contains(r.EmailId)).ToListAsync();
        var events = await db.Events.AsNoTracking().Where(e => emailIds.Contains(e.EmailId)).ToListAsync();
        var deliveries = await db.WebhookDeliveries.AsNoTracking().Where(d => emailIds.Contains(d.EmailId)).Select(d => d.Payload).ToListAsync();
        Assert.NotEmpty(events);
        Assert.DoesNotContain(Bob, JsonSerializer.Serialize(recipients), StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(Bob, JsonSerializer.Serialize(events), StringComparison.OrdinalIgnoreCase);
        Assert.All(deliveries, payload => Assert.DoesNotContain(Bob, payload, StringComparison.OrdinalIgnoreCase));
    }

    private sealed class TransactionCount : Microsoft.EntityFrameworkCore.Diagnostics.DbTransactionInterceptor
    {
        public int Committed { get; private set; }

        public override Task TransactionCommittedAsync(
            System.Data.Common.DbTransaction transaction, Microsoft.EntityFrameworkCore.Diagnostics.TransactionEndEventData eventData,
            CancellationToken cancellationToken = default)
        {
            Committed++;
            return Task.CompletedTask;
        }
    }

    /// <summary>A webhook subscription to <paramref name="events"/>, so that the emails' events get deliveries an erasure must mind.</summary>
    private static async Task SubscribeAsync(StatusStore store, params string[] events)
    {
        await using var db = store.NewContext();
        db.WebhookSubscriptions.Add(new WebhookSubscriptionRecord
        {
            Id = Guid.NewGuid(), Url = "https://hooks.example.com/email", Secret = WebhookSignature.NewSecret(),
            Events = [.. events], CreatedAt = DateTime.UtcNow, UpdatedAt = DateTime.UtcNow,
        });
        await db.SaveChangesAsync();
    }

    private static Task<Results<Ok<ErasureResponse>, ValidationProblem>> EraseAsync(StatusStore store, string address) =>
        EraseAsync(store.NewContext(), address);

    private static async Task<Results<Ok<ErasureResponse>, ValidationProblem>> EraseAsync(StatusDbContext db, string address)
    {
        await using (db)
        {
            return await RecipientErasure.EraseAsync(
                address, new DefaultHttpContext(), db, TimeProvider.System, NullLogger<ErasureResponse>.Instance, CancellationToken.None);
        }
    }

    private static async Task<JsonElement> EraseAsync(HttpClient client, string address)
    {
        using var response = await client.DeleteAsync(new Uri($"/v1/recipients/{Uri.EscapeDataString(address)}", UriKind.Relative));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static Task<JsonElement> GetEmailAsync(HttpClient client, Guid emailId) => GetJsonAsync(client, $"/v1/emails/{emailId}");

    private static async Task<JsonElement> GetJsonAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(new Uri(path, UriKind.Relative));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    private static List<string?> Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString())];
}
