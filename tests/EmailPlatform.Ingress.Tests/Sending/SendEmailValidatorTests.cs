using EmailPlatform.Ingress.Sending;
using EmailPlatform.Ingress.Tests.Support;

namespace EmailPlatform.Ingress.Tests.Sending;

/// <summary>The checks made before anything is stored: addresses, header injection, limits, unsupported fields.</summary>
public sealed class SendEmailValidatorTests
{
    [Fact]
    public void MinimalRequestIsValid()
    {
        var result = SendEmailValidator.Validate(SendBodies.Minimal(), SendBodies.Limits);

        Assert.NotNull(result.Email);
        Assert.Empty(result.Errors);
        Assert.Equal("billing@acme.test", result.Email.From.Address);
        Assert.Equal("alice@example.test", Assert.Single(result.Email.To).Address);
        Assert.Empty(result.Email.Attachments);
    }

    [Fact]
    public void FromWithDisplayNameIsValidAndKeepsTheName()
    {
        var result = SendEmailValidator.Validate(SendBodies.Minimal() with { From = "Acme Billing <billing@acme.test>" }, SendBodies.Limits);

        Assert.NotNull(result.Email);
        Assert.Equal("Acme Billing", result.Email.From.Name);
        Assert.Equal("billing@acme.test", result.Email.From.Address);
    }

    [Fact]
    public void AllRecipientFieldsAreParsed()
    {
        var result = SendEmailValidator.Validate(SendBodies.Minimal() with
        {
            To = ["a@example.test", "Bob <b@example.test>"],
            Cc = ["c@example.test"],
            Bcc = ["d@example.test"],
            ReplyTo = ["support@acme.test"],
        }, SendBodies.Limits);

        Assert.NotNull(result.Email);
        Assert.Equal(["a@example.test", "b@example.test"], result.Email.To.Select(m => m.Address));
        Assert.Equal("c@example.test", Assert.Single(result.Email.Cc).Address);
        Assert.Equal("d@example.test", Assert.Single(result.Email.Bcc).Address);
        Assert.Equal("support@acme.test", Assert.Single(result.Email.ReplyTo).Address);
    }

    [Fact]
    public void MissingToIsAMissingRequiredField()
    {
        var result = SendEmailValidator.Validate(SendBodies.Minimal() with { To = null }, SendBodies.Limits);

        AssertInvalid(result, "missing_required_field", "to");
    }

    [Fact]
    public void EmptyToIsAMissingRequiredField()
    {
        var result = SendEmailValidator.Validate(SendBodies.Minimal() with { To = [] }, SendBodies.Limits);

        AssertInvalid(result, "missing_required_field", "to");
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void MissingFromIsAMissingRequiredField(string? from)
    {
        var result = SendEmailValidator.Validate(SendBodies.Minimal() with { From = from }, SendBodies.Limits);

        AssertInvalid(result, "missing_required_field", "from");
    }

    [Fact]
    public void MissingSubjectIsAMissingRequiredField()
    {
        var result = SendEmailValidator.Validate(SendBodies.Minimal() with { Subject = null }, SendBodies.Limits);

        AssertInvalid(result, "missing_required_field", "subject");
    }

    [Theory]
    [InlineData("billing")]
    [InlineData("billing@")]
    [InlineData("@acme.test")]
    [InlineData("Acme <billing@acme.test")]
    [InlineData("billing@acme.test, other@acme.test")]
    public void InvalidFromIsAnInvalidFromAddress(string from)
    {
        var result = SendEmailValidator.Validate(SendBodies.Minimal() with { From = from }, SendBodies.Limits);

        var messages = AssertInvalid(result, "invalid_from_address", "from");
        Assert.Contains("not a valid email address", Assert.Single(messages), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("alice")]
    [InlineData("alice@")]
    [InlineData("alice example.test")]
    public void InvalidToAddressIsAValidationErrorNamingItsIndex(string to)
    {
        var result = SendEmailValidator.Validate(SendBodies.Minimal() with { To = ["ok@example.test", to] }, SendBodies.Limits);

        AssertInvalid(result, "validation_error", "to[1]");
    }

    [Theory]
    [MemberData(nameof(ControlCharactersInHeaderFields))]
    public void ControlCharacterInAnythingThatBecomesAHeaderIsRefused(string field, string control)
    {
        var request = field switch
        {
            "subject" => SendBodies.Minimal() with { Subject = $"Your{control}receipt" },
            "from" => SendBodies.Minimal() with { From = $"Acme{control}Billing <billing@acme.test>" },
            "to[0]" => SendBodies.Minimal() with { To = [$"Alice{control} <alice@example.test>"] },
            "headers.X-Note" => SendBodies.Minimal() with { Headers = new Dictionary<string, string> { ["X-Note"] = $"a{control}Bcc: victim@example.test" } },
            "tags[0].value" => SendBodies.Minimal() with { Tags = [new TagRequest("category", $"receipt{control}x")] },
            "tags[0].name" => SendBodies.Minimal() with { Tags = [new TagRequest($"cat{control}egory", "receipt")] },
            "attachments[0].filename" => SendBodies.Minimal() with { Attachments = [new AttachmentRequest($"a{control}.txt", "aGk=", null, null, null)] },
            _ => throw new ArgumentOutOfRangeException(nameof(field), field, null),
        };

        var result = SendEmailValidator.Validate(request, SendBodies.Limits);

        Assert.Null(result.Email);
        Assert.True(result.Errors.ContainsKey(field), $"No error for {field}; errors: {string.Join(", ", result.Errors.Keys)}");
    }

    public static TheoryData<string, string> ControlCharactersInHeaderFields()
    {
        var data = new TheoryData<string, string>();
        string[] fields = ["subject", "from", "to[0]", "headers.X-Note", "tags[0].value", "tags[0].name", "attachments[0].filename"];
        string[] controls = ["\r\n", "\r", "\n", "\0", "\t", "\u007f", "\u2028", "\u2029", "\u0085"];
        foreach (var field in fields)
        {
            foreach (var control in controls)
            {
                data.Add(field, control);
            }
        }

        return data;
    }

    [Theory]
    [InlineData("tags[0].value")]
    [InlineData("tags[0].name")]
    [InlineData("headers.X-Note\n")]
    public void LineFeedAtTheVeryEndOfAFieldCheckedByPatternIsRefused(string field)
    {
        // A pattern's '$' also matches before a final line feed; the patterns end with '\z'.
        var request = field switch
        {
            "tags[0].value" => SendBodies.Minimal() with { Tags = [new TagRequest("category", "receipt\n")] },
            "tags[0].name" => SendBodies.Minimal() with { Tags = [new TagRequest("category\n", "receipt")] },
            _ => SendBodies.Minimal() with { Headers = new Dictionary<string, string> { ["X-Note\n"] = "value" } },
        };

        var result = SendEmailValidator.Validate(request, SendBodies.Limits);

        AssertInvalid(result, "validation_error", field);
    }

    [Fact]
    public void CrlfInSubjectSaysWhatIsWrong()
    {
        var result = SendEmailValidator.Validate(SendBodies.Minimal() with { Subject = "Hi\r\nBcc: victim@example.test" }, SendBodies.Limits);

        var message = Assert.Single(AssertInvalid(result, "validation_error", "subject"));
        Assert.Contains("control characters", message, StringComparison.Ordinal);
    }

    [Fact]
    public void OverlongSubjectIsRefused()
    {
        var result = SendEmailValidator.Validate(SendBodies.Minimal() with { Subject = new string('x', SendEmailValidator.MaxHeaderValueLength + 1) }, SendBodies.Limits);

        AssertInvalid(result, "validation_error", "subject");
    }

    [Theory]
    [InlineData("X Note")]
    [InlineData("X:Note")]
    [InlineData("X-Nöte")]
    [InlineData("")]
    public void HeaderNameThatIsNotAFieldNameIsRefused(string name)
    {
        var result = SendEmailValidator.Validate(SendBodies.Minimal() with { Headers = new Dictionary<string, string> { [name] = "value" } }, SendBodies.Limits);

        var message = Assert.Single(AssertInvalid(result, "validation_error", $"headers.{name}"));
        Assert.Contains("header name", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Bcc")]
    [InlineData("bcc")]
    [InlineData("Content-Type")]
    [InlineData("From")]
    [InlineData("MIME-Version")]
    [InlineData("Content-Transfer-Encoding")]
    [InlineData("Message-ID")]
    [InlineData("X-Email-Id")]
    [InlineData("Resent-From")]
    [InlineData("resent-sender")]
    [InlineData("Resent-To")]
    public void ReservedHeaderIsRefused(string name)
    {
        var result = SendEmailValidator.Validate(SendBodies.Minimal() with { Headers = new Dictionary<string, string> { [name] = "value" } }, SendBodies.Limits);

        var message = Assert.Single(AssertInvalid(result, "validation_error", $"headers.{name}"));
        Assert.Contains("set by the platform", message, StringComparison.Ordinal);
    }

    [Fact]
    public void CustomHeaderIsAllowed()
    {
        var result = SendEmailValidator.Validate(SendBodies.Minimal() with
        {
            Headers = new Dictionary<string, string> { ["X-Entity-Ref-ID"] = "order-42", ["List-Unsubscribe"] = "<mailto:unsub@acme.test>" },
        }, SendBodies.Limits);

        Assert.NotNull(result.Email);
    }

    [Fact]
    public void FiftyRecipientsAreAllowed()
    {
        var result = SendEmailValidator.Validate(SendBodies.Minimal() with { To = Recipients(SendEmailValidator.MaxRecipientsPerField) }, SendBodies.Limits);

        Assert.NotNull(result.Email);
        Assert.Equal(50, result.Email.To.Count);
    }

    [Fact]
    public void MoreThanFiftyRecipientsAreRefused()
    {
        var result = SendEmailValidator.Validate(SendBodies.Minimal() with { To = Recipients(51) }, SendBodies.Limits);

        var message = Assert.Single(AssertInvalid(result, "validation_error", "to"));
        Assert.Contains("At most 50", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("has space", "ok")]
    [InlineData("dot.ted", "ok")]
    [InlineData("ümlaut", "ok")]
    [InlineData("", "ok")]
    [InlineData("ok", "a/b")]
    [InlineData("ok", "")]
    [InlineData("ok", null)]
    public void TagWithCharactersOutsideTheAllowedSetIsRefused(string name, string? value)
    {
        var result = SendEmailValidator.Validate(SendBodies.Minimal() with { Tags = [new TagRequest(name, value)] }, SendBodies.Limits);

        Assert.Null(result.Email);
        Assert.Contains(result.Errors.Keys, k => k is "tags[0].name" or "tags[0].value");
    }

    [Fact]
    public void TagLongerThan256CharactersIsRefused()
    {
        var result = SendEmailValidator.Validate(SendBodies.Minimal() with { Tags = [new TagRequest("ok", new string('v', 257))] }, SendBodies.Limits);

        AssertInvalid(result, "validation_error", "tags[0].value");
    }

    [Fact]
    public void TagsOfLettersDigitsUnderscoresAndDashesAreValid()
    {
        var result = SendEmailValidator.Validate(SendBodies.Minimal() with { Tags = [new TagRequest("user_id-2", "A-9_z")] }, SendBodies.Limits);

        Assert.NotNull(result.Email);
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("", "")]
    public void NeitherHtmlNorTextIsAMissingRequiredField(string? html, string? text)
    {
        var result = SendEmailValidator.Validate(SendBodies.Minimal() with { Html = html, Text = text }, SendBodies.Limits);

        var message = Assert.Single(AssertInvalid(result, "missing_required_field", "html"));
        Assert.Contains("html or text", message, StringComparison.Ordinal);
    }

    [Fact]
    public void HtmlAloneIsEnough()
    {
        var result = SendEmailValidator.Validate(SendBodies.Minimal() with { Text = null, Html = "<p>Hi</p>" }, SendBodies.Limits);

        Assert.NotNull(result.Email);
    }

    [Theory]
    [InlineData("2001-01-01T00:00:00Z", "in the future")]
    [InlineData("2099-01-01T00:00:00Z", "at most 30 days ahead")]
    [InlineData("tomorrow at nine", "ISO 8601")]
    [InlineData("2026-13-45T99:00:00Z", "ISO 8601")]
    public void ScheduledAtInThePastTooFarAheadOrNotIso8601IsRefused(string scheduledAt, string expected)
    {
        var result = SendEmailValidator.Validate(SendBodies.Minimal() with { ScheduledAt = scheduledAt }, SendBodies.Limits);

        var message = Assert.Single(AssertInvalid(result, "validation_error", "scheduled_at"));
        Assert.Contains(expected, message, StringComparison.Ordinal);
    }

    [Fact]
    public void ScheduledAtInTheNextDaysIsAcceptedInUtc()
    {
        var at = DateTimeOffset.UtcNow.AddDays(2).ToOffset(TimeSpan.FromHours(2));

        var result = SendEmailValidator.Validate(SendBodies.Minimal() with { ScheduledAt = at.ToString("O") }, SendBodies.Limits);

        Assert.NotNull(result.Email);
        Assert.Equal(at, result.Email.ScheduledAt);
        Assert.Equal(TimeSpan.Zero, result.Email.ScheduledAt!.Value.Offset);
    }

    [Fact]
    public void MoreRecipientsThanTheConfiguredTotalAreRefused()
    {
        var limits = SendBodies.Limits with { MaxRecipients = 3 };
        var result = SendEmailValidator.Validate(SendBodies.Minimal() with { To = ["a@x.test", "b@x.test"], Cc = ["c@x.test"], Bcc = ["d@x.test"] }, limits);

        Assert.Contains("At most 3 recipients", Assert.Single(AssertInvalid(result, "validation_error", "to")), StringComparison.Ordinal);
    }

    [Fact]
    public void EveryProblemIsReportedAtOnceAndTheFirstNamedOneNamesTheProblem()
    {
        var result = SendEmailValidator.Validate(new SendEmailRequest { From = "nope", Subject = "Hi\n" }, SendBodies.Limits);

        Assert.Null(result.Email);
        Assert.Equal("invalid_from_address", result.ProblemName);
        Assert.Equal(["from", "html", "subject", "to"], result.Errors.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void MetadataValueOfAThousandUtf8BytesIsValidAndOneMoreIsRefused()
    {
        var atLimit = SendEmailValidator.Validate(SendBodies.Minimal() with { Metadata = new Dictionary<string, string> { ["note"] = new string('é', 500) } }, SendBodies.Limits);
        var over = SendEmailValidator.Validate(SendBodies.Minimal() with { Metadata = new Dictionary<string, string> { ["note"] = new string('é', 500) + "x" } }, SendBodies.Limits);

        Assert.NotNull(atLimit.Email);
        Assert.Contains("at most 1000 bytes", Assert.Single(AssertInvalid(over, "validation_error", "metadata.note")), StringComparison.Ordinal);
    }

    [Fact]
    public void MoreThanFiftyMetadataEntriesAreRefused()
    {
        var fifty = Enumerable.Range(0, 50).ToDictionary(i => $"k{i}", i => "v");
        var fiftyOne = Enumerable.Range(0, 51).ToDictionary(i => $"k{i}", i => "v");

        Assert.NotNull(SendEmailValidator.Validate(SendBodies.Minimal() with { Metadata = fifty }, SendBodies.Limits).Email);
        var message = Assert.Single(AssertInvalid(SendEmailValidator.Validate(SendBodies.Minimal() with { Metadata = fiftyOne }, SendBodies.Limits), "validation_error", "metadata"));
        Assert.Contains("At most 50 metadata entries", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("from", "invalid_from_address", 65, 10)]
    [InlineData("from", "invalid_from_address", 33, 10)] // 33 two-byte characters: 66 bytes
    [InlineData("to", "validation_error", 64, 190)] // 64 + 1 + 190 = 255 bytes
    [InlineData("cc", "validation_error", 65, 10)]
    [InlineData("bcc", "validation_error", 65, 10)]
    [InlineData("reply_to", "validation_error", 64, 190)]
    public void AddressOverSmtpLengthLimitsIsRefused(string field, string problemName, int localPart, int domain)
    {
        var address = (localPart == 33 ? new string('é', localPart) : new string('a', localPart)) + "@" + Domain(domain);
        var request = field switch
        {
            "from" => SendBodies.Minimal() with { From = $"Long <{address}>" },
            "to" => SendBodies.Minimal() with { To = [address] },
            "cc" => SendBodies.Minimal() with { Cc = [address] },
            "bcc" => SendBodies.Minimal() with { Bcc = [address] },
            _ => SendBodies.Minimal() with { ReplyTo = [address] },
        };

        var result = SendEmailValidator.Validate(request, SendBodies.Limits);

        var message = Assert.Single(AssertInvalid(result, problemName, field == "from" ? "from" : $"{field}[0]"));
        Assert.Contains("at most 64 bytes", message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddressAtSmtpLengthLimitsIsValid()
    {
        var longest = new string('a', 64) + "@" + Domain(189); // 254 bytes

        var result = SendEmailValidator.Validate(SendBodies.Minimal() with { From = longest, To = [longest] }, SendBodies.Limits);

        Assert.NotNull(result.Email);
    }

    /// <summary>A valid domain name of exactly <paramref name="length"/> characters, ending in <c>.test</c>.</summary>
    internal static string Domain(int length)
    {
        var labels = new List<string>();
        var left = length - ".test".Length;
        while (left > 0)
        {
            var label = Math.Min(63, left == 64 ? 62 : left);
            labels.Add(new string('d', label));
            left -= label + 1;
        }

        var domain = string.Join('.', labels) + ".test";
        Assert.Equal(length, domain.Length);
        return domain;
    }

    [Theory]
    [InlineData("logo")]
    [InlineData("<logo>")]
    [InlineData("image001.png@01D9A2B3.C4D5E6F0")]
    [InlineData(" logo-2_x ")]
    [InlineData("")] // no content id: an ordinary attachment
    public void ContentIdThatAMessageCanCarryIsAccepted(string contentId)
    {
        var result = SendEmailValidator.Validate(
            SendBodies.Minimal() with { Attachments = [new AttachmentRequest("logo.png", "aGk=", "image/png", contentId, null)] }, SendBodies.Limits);

        Assert.NotNull(result.Email);
        Assert.Equal(contentId, Assert.Single(result.Email.Attachments).ContentId);
    }

    [Theory]
    [InlineData("(logo)")] // a comment to MimeKit: the worker could not build the part
    [InlineData("<>")]
    [InlineData("a b")] // MimeKit would drop the space, and cid:a b would find nothing
    [InlineData("cid:logo")]
    [InlineData("lögo")]
    [InlineData("<<logo>>")]
    public void ContentIdThatAMessageCannotCarryIsRefused(string contentId)
    {
        var result = SendEmailValidator.Validate(
            SendBodies.Minimal() with { Attachments = [new AttachmentRequest("logo.png", "aGk=", "image/png", contentId, null)] }, SendBodies.Limits);

        var message = Assert.Single(AssertInvalid(result, "invalid_attachment", "attachments[0].content_id"));
        Assert.Contains("cid:", message, StringComparison.Ordinal);
    }

    [Fact]
    public void ContentIdOfMoreThan250CharactersIsRefused()
    {
        var result = SendEmailValidator.Validate(
            SendBodies.Minimal() with { Attachments = [new AttachmentRequest("logo.png", "aGk=", "image/png", new string('a', 251), null)] }, SendBodies.Limits);

        AssertInvalid(result, "invalid_attachment", "attachments[0].content_id");
    }

    internal static string[] AssertInvalid(ValidationResult result, string problemName, string field)
    {
        Assert.Null(result.Email);
        Assert.Equal(problemName, result.ProblemName);
        Assert.True(result.Errors.TryGetValue(field, out var messages), $"No error for {field}; errors: {string.Join(", ", result.Errors.Keys)}");
        return messages;
    }

    private static string[] Recipients(int count) =>
        Enumerable.Range(0, count).Select(i => $"r{i}@example.test").ToArray();
}
