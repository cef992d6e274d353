using System.Text;
using System.Text.Json.Nodes;

namespace EmailPlatform.Resilience.Tests.Hostile;

/// <summary>One generated request: what it tries, and exactly what goes over the wire.</summary>
internal sealed record HostileRequest(string Kind, string Path, byte[] Body, string? ContentType, Auth Auth = Auth.Valid, bool Chunked = false)
{
    public override string ToString()
    {
        var preview = Encoding.UTF8.GetString(Body, 0, Math.Min(Body.Length, 160)).ReplaceLineEndings("⏎");
        return $"{Kind} → POST {Path} ({ContentType ?? "no content type"}, {Body.Length} B, {Auth}): {preview}";
    }
}

/// <summary>Which credentials a request carries.</summary>
internal enum Auth
{
    Valid,
    None,
    Empty,
    Basic,
    Unknown,
    WrongPrefix,
    Revoked,
    ReadOnly,
    Truncated,
}

/// <summary>
/// Generates hostile requests from a seed: the same seed gives the same requests, so a failure can be replayed. Every
/// one must be refused with a 4xx problem detail. The categories follow issue 7: malformed and truncated JSON, wrong
/// types, control characters in every field that becomes a header or an identifier, oversize bodies, invalid base64
/// and UTF-8, 10,000 recipients, deep nesting, bad content types, wrong and revoked keys; through the single, batch
/// and raw send endpoints.
/// </summary>
internal sealed class HostileRequests(int seed, int maxBodyBytes)
{
    private const string Json = "application/json";

    /// <summary>CR, LF, NUL, the other C0 controls, DEL, C1's NEL and the Unicode line and paragraph separators.</summary>
    private static readonly string[] Controls =
    [
        "\r", "\n", "\r\n", "\0", "\t", "\u0001", "\u0007", "\u0008", "\u000b", "\u000c", "\u001b", "\u001f", "\u007f", "\u0085",
        "\u2028", "\u2029", "\r\nBcc: victim@evil.test", "\nX-Injected: yes", "\r\n.\r\nMAIL FROM:<evil@evil.test>",
    ];

    /// <summary>Invalid UTF-8: a stray continuation byte, a truncated sequence, overlong forms, an encoded surrogate, 0xFE/0xFF.</summary>
    private static readonly byte[][] BadUtf8 =
    [
        [0x80], [0xBF], [0xC3], [0xC3, 0x28], [0xE2, 0x82], [0xE2, 0x28, 0xA1], [0xF0, 0x90, 0x28, 0xBC], [0xC0, 0xAF],
        [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xFE], [0xFF], [0xF4, 0x90, 0x80, 0x80],
    ];

    private readonly Random _random = new(seed);

    /// <summary><paramref name="count"/> requests, cycling through the categories (each draws its own variations).</summary>
    public IReadOnlyList<HostileRequest> Generate(int count)
    {
        var generators = new Func<HostileRequest>[]
        {
            MalformedJson, MalformedJson, WrongType, WrongType, ControlCharacter, ControlCharacter, ControlCharacter,
            InvalidBase64, InvalidUtf8, BadContentType, BadKey, BadBatch, BadRaw, DeepNesting, TooManyRecipients, OverALimit,
        };
        var requests = new List<HostileRequest>(count) { Oversize(chunked: false), Oversize(chunked: true), Oversize(chunked: false, valid: true) };
        for (var i = 0; requests.Count < count; i++)
        {
            requests.Add(generators[i % generators.Length]());
        }

        return requests;
    }

    /// <summary>A complete, valid email: every generator breaks exactly one thing in it.</summary>
    public static JsonObject ValidEmail() => new()
    {
        ["from"] = "Acme Support <support@acme.test>",
        ["to"] = new JsonArray("alice@example.test"),
        ["cc"] = new JsonArray("carol@example.test"),
        ["bcc"] = new JsonArray("bob@example.test"),
        ["reply_to"] = new JsonArray("help@acme.test"),
        ["subject"] = "Your order #1234",
        ["text"] = "Thanks for your order.",
        ["html"] = "<p>Thanks for your <b>order</b>.</p>",
        ["headers"] = new JsonObject { ["X-Campaign"] = "spring" },
        ["attachments"] = new JsonArray(new JsonObject
        {
            ["filename"] = "invoice.txt",
            ["content"] = Convert.ToBase64String("Invoice 1234"u8.ToArray()),
            ["content_type"] = "text/plain",
        }),
        ["tags"] = new JsonArray(new JsonObject { ["name"] = "category", ["value"] = "orders" }),
        ["metadata"] = new JsonObject { ["order"] = "1234" },
        ["priority"] = "normal",
    };

    /// <summary>
    /// Priorities the ingress accepts today although they are not one of <c>high</c>, <c>normal</c>, <c>bulk</c>: a
    /// number, other casing, surrounding whitespace or control characters, a comma-separated list (its enum parsing
    /// trims, ignores case and combines flags: "high, bulk" becomes a value that is no priority).
    /// They never reach a header; kept apart so that the main suite does not fail on them.
    /// </summary>
    public static IEnumerable<(string Kind, byte[] Body)> LenientPriorities() =>
        new (string, JsonNode)[] { ("number", 1), ("number", 0), ("other casing", "HIGH"), ("trailing space", "high "), ("trailing LF", "high\n"), ("leading VT", "\u000bbulk"), ("trailing U+2028", "normal\u2028"), ("a list", "high, bulk") }
            .Select(p =>
            {
                var email = ValidEmail();
                email["priority"] = p.Item2;
                return ($"priority {p.Item1}", Utf8(email));
            });

    private static byte[] Utf8(JsonNode node) => Encoding.UTF8.GetBytes(node.ToJsonString());

    private HostileRequest MalformedJson()
    {
        var valid = Utf8(ValidEmail());
        return _random.Next(4) switch
        {
            0 => new HostileRequest("truncated JSON", "/v1/emails", valid[.._random.Next(0, valid.Length - 1)], Json),
            1 => new HostileRequest("malformed JSON", "/v1/emails", Encoding.UTF8.GetBytes(Pick(
            [
                "", " ", "{", "}", "[", "null", "true", "42", "\"an email\"", "[]", "{\"from\":}", "{\"from\" \"a@b.test\"}",
                "{'from': 'a@b.test'}", "{\"to\": [\"a@b.test\",], \"subject\": \"x\"}", "{\"subject\": NaN}", "{\"text\": Infinity}",
                "{/* comment */ \"from\": \"a@b.test\"}", "{\"from\": \"a@b.test\"} trailing", "{\"from\": \"a@b.test\"}{}",
                "{\"subject\": \"unterminated}", "{\"subject\": \"bad escape \\x41\"}", "{\"subject\": \"\\u12\"}",
            ])), Json),
            2 => new HostileRequest("random bytes", "/v1/emails", RandomBytes(_random.Next(1, 512)), Json),
            _ => new HostileRequest("JSON with a byte flipped", "/v1/emails", Flip(valid), Json),
        };
    }

    private HostileRequest WrongType()
    {
        var email = ValidEmail();
        (string Field, JsonNode? Value)[][] table =
        [
            [("from", 42), ("from", true), ("from", new JsonArray("a@b.test")), ("from", new JsonObject()), ("from", null)],
            [("to", 42), ("to", new JsonObject()), ("to", new JsonArray(42)), ("to", new JsonArray(new JsonArray())), ("to", null), ("to", false)],
            [("cc", 42), ("cc", new JsonObject()), ("bcc", new JsonArray(true)), ("reply_to", 7)],
            [("subject", 42), ("subject", new JsonArray()), ("subject", new JsonObject()), ("subject", null), ("subject", false)],
            [("text", 42), ("text", new JsonArray()), ("html", new JsonObject()), ("html", true)],
            [("headers", new JsonArray()), ("headers", "X-A: b"), ("headers", new JsonObject { ["X-A"] = 1 }), ("headers", new JsonObject { ["X-A"] = new JsonObject() })],
            [("attachments", new JsonObject()), ("attachments", "file"), ("attachments", new JsonArray(42)), ("attachments", new JsonArray(new JsonObject { ["filename"] = 1, ["content"] = "QQ==" }))],
            [("tags", new JsonObject()), ("tags", "a"), ("tags", new JsonArray("a")), ("tags", new JsonArray(new JsonObject { ["name"] = 1, ["value"] = "x" }))],
            [("metadata", new JsonArray()), ("metadata", "a=b"), ("metadata", new JsonObject { ["a"] = 1 }), ("metadata", new JsonObject { ["a"] = new JsonObject() })],
            [("priority", "urgent"), ("priority", new JsonArray()), ("priority", new JsonObject()), ("priority", "highest")],
            [("scheduled_at", 1700000000), ("scheduled_at", "tomorrow"), ("scheduled_at", new JsonObject()), ("scheduled_at", "2001-01-01T00:00:00Z")],
        ];
        var (field, wrong) = Pick(table[_random.Next(table.Length)]);
        email[field] = wrong;
        return new HostileRequest($"wrong type for {field}", "/v1/emails", Utf8(email), Json);
    }

    private HostileRequest ControlCharacter()
    {
        var email = ValidEmail();
        var control = Pick(Controls);
        var field = Pick(
        [
            "from name", "from address", "to", "cc", "bcc", "reply_to", "subject", "header name", "header value", "attachment filename",
            "attachment content_type", "attachment content_id", "tag name", "tag value", "metadata key", "priority (inside)", "scheduled_at",
        ]);
        string Insert(string value)
        {
            var at = _random.Next(value.Length + 1);
            return value[..at] + control + value[at..];
        }

        var attachment = email["attachments"]![0]!.AsObject();
        switch (field)
        {
            case "from name": email["from"] = $"{Insert("Acme Support")} <support@acme.test>"; break;
            case "from address": email["from"] = Insert("support@acme.test"); break;
            case "to" or "cc" or "bcc" or "reply_to": email[field] = new JsonArray(Insert("someone@example.test")); break;
            case "subject": email["subject"] = Insert("Your order #1234"); break;
            case "header name": email["headers"] = new JsonObject { [Insert("X-Campaign")] = "spring" }; break;
            case "header value": email["headers"] = new JsonObject { ["X-Campaign"] = Insert("spring") }; break;
            case "attachment filename": attachment["filename"] = Insert("invoice.txt"); break;
            case "attachment content_type": attachment["content_type"] = Insert("text/plain"); break;
            case "attachment content_id": attachment["content_id"] = Insert("logo-1"); break;
            case "tag name": email["tags"]![0]!["name"] = Insert("category"); break;
            case "tag value": email["tags"]![0]!["value"] = Insert("orders"); break;
            case "metadata key": email["metadata"] = new JsonObject { [Insert("order")] = "1234" }; break;
            // Inside the word: padding around an enum name is whitespace that parsing ignores (see LenientPriorities).
            case "priority (inside)": email["priority"] = "hi" + control + "gh"; break;
            default: email["scheduled_at"] = Insert(DateTimeOffset.UtcNow.AddDays(1).ToString("O")); break;
        }

        return new HostileRequest($"control character {Escape(control)} in {field}", "/v1/emails", Utf8(email), Json);
    }

    private HostileRequest InvalidBase64()
    {
        var email = ValidEmail();
        email["attachments"]![0]!["content"] = Pick(
        [
            "!!!!", "QQ", "Q===", "QQ=A", "====", "ab$d", "SGVsbG8gd29ybGQ", "data:text/plain;base64,QQ==", "%41%42", "QUJD\u0000",
            "\u00e9t\u00e9", "QUJD*", Convert.ToBase64String(RandomBytes(30))[..^1] + "!", "-_-_",
        ]);
        return new HostileRequest("invalid base64 attachment", "/v1/emails", Utf8(email), Json);
    }

    private HostileRequest InvalidUtf8()
    {
        var email = ValidEmail();
        var field = Pick(["subject", "text", "from", "html"]);
        var marker = "ZZMARKZZ";
        email[field] = field == "from" ? $"Acme {marker} <support@acme.test>" : $"Order {marker} confirmed";
        var json = Encoding.UTF8.GetString(Utf8(email));
        var at = json.IndexOf(marker, StringComparison.Ordinal);
        if (_random.Next(4) == 0)
        {
            // Valid UTF-8 and valid JSON syntax, but a lone surrogate: not a Unicode string.
            var escaped = json[..at] + Pick(["\\ud800", "\\udfff", "\\ud83d x", "\\udc00\\ud800"]) + json[(at + marker.Length)..];
            return new HostileRequest($"lone surrogate escape in {field}", "/v1/emails", Encoding.UTF8.GetBytes(escaped), Json);
        }

        var bytes = Encoding.UTF8.GetBytes(json[..at]).Concat(Pick(BadUtf8)).Concat(Encoding.UTF8.GetBytes(json[(at + marker.Length)..])).ToArray();
        return new HostileRequest($"invalid UTF-8 in {field}", "/v1/emails", bytes, Json);
    }

    private HostileRequest BadContentType()
    {
        var body = Utf8(ValidEmail());
        var type = Pick<string?>(
        [
            null, "text/plain", "text/html", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
            "application/octet-stream", "application/jsonx", "json", "application/javascript", "image/png", "*/*",
        ]);
        return new HostileRequest($"content type {type ?? "(none)"}", Pick(["/v1/emails", "/v1/emails/batch", "/v1/emails/raw"]), body, type);
    }

    private HostileRequest BadKey()
    {
        var auth = Pick([Auth.None, Auth.Empty, Auth.Basic, Auth.Unknown, Auth.WrongPrefix, Auth.Revoked, Auth.Revoked, Auth.ReadOnly, Auth.Truncated]);
        return new HostileRequest($"credentials: {auth}", Pick(["/v1/emails", "/v1/emails/batch", "/v1/emails/raw"]), Utf8(ValidEmail()), Json, auth);
    }

    private HostileRequest BadBatch()
    {
        var items = new JsonArray();
        var count = _random.Next(1, 6);
        var bad = _random.Next(count);
        for (var i = 0; i < count; i++)
        {
            var email = ValidEmail();
            if (i == bad)
            {
                email["subject"] = "Injected" + Pick(Controls) + "subject";
            }

            items.Add(email);
        }

        var body = _random.Next(5) switch
        {
            0 => Utf8(ValidEmail()), // an object where an array belongs
            1 => Utf8(new JsonArray(Enumerable.Range(0, 101).Select(_ => (JsonNode)ValidEmail()).ToArray())), // over 100
            2 => "[]"u8.ToArray(),
            3 => Utf8(new JsonArray(new JsonArray(ValidEmail()))),
            _ => Utf8(items), // strict validation: one bad item refuses all
        };
        return new HostileRequest("batch", "/v1/emails/batch", body, Json);
    }

    private HostileRequest BadRaw()
    {
        var message = "From: support@acme.test\r\nTo: alice@example.test\r\nSubject: Raw\r\n\r\nHello.\r\n";
        var raw = new JsonObject
        {
            ["raw"] = Convert.ToBase64String(Encoding.ASCII.GetBytes(message)),
            ["mail_from"] = "support@acme.test",
            ["rcpt_to"] = new JsonArray("alice@example.test"),
        };
        var variant = _random.Next(5);
        switch (variant)
        {
            case 0: raw["raw"] = Pick(["!!!", "QQ", "not base64 at all", ""]); break;
            case 1: raw["mail_from"] = "support@acme.test" + Pick(Controls); break;
            case 2: raw["rcpt_to"] = new JsonArray("alice@example.test" + Pick(Controls)); break;
            case 3: raw["rcpt_to"] = new JsonArray(); break;
            default: raw["raw"] = 42; break;
        }

        return new HostileRequest($"raw variant {variant}", "/v1/emails/raw", Utf8(raw), Json);
    }

    private HostileRequest DeepNesting()
    {
        var depth = Pick([65, 200, 1000, 10_000]);
        var body = _random.Next(3) switch
        {
            0 => new string('[', depth) + new string(']', depth),
            1 => "{\"from\": \"support@acme.test\", \"to\": \"a@example.test\", \"subject\": \"x\", \"text\": \"x\", \"metadata\": "
                + string.Concat(Enumerable.Repeat("{\"a\": ", depth)) + "\"x\"" + new string('}', depth) + "}",
            _ => "{\"from\": \"support@acme.test\", \"to\": " + new string('[', depth) + "\"a@example.test\"" + new string(']', depth)
                + ", \"subject\": \"x\", \"text\": \"x\"}",
        };
        return new HostileRequest($"nesting depth {depth}", "/v1/emails", Encoding.UTF8.GetBytes(body), Json);
    }

    private HostileRequest TooManyRecipients()
    {
        var count = Pick([51, 101, 1000, 10_000]);
        var field = Pick(["to", "cc", "bcc"]);
        var email = ValidEmail();
        email[field] = new JsonArray(Enumerable.Range(0, count).Select(i => (JsonNode)JsonValue.Create($"r{i}@example.test")).ToArray());
        return new HostileRequest($"{count} recipients in {field}", "/v1/emails", Utf8(email), Json);
    }

    /// <summary>
    /// Over a limit that exists for what comes after the ingress: an address longer than SMTP allows (the part before
    /// '@' over 64 bytes, or the whole over 254), more metadata entries than 50, or a value over 1,000 bytes that the
    /// status store could not index.
    /// </summary>
    private HostileRequest OverALimit()
    {
        var email = ValidEmail();
        var longLocal = new string('l', 65) + "@example.test";
        var longAddress = new string('a', 10) + "@" + string.Join('.', Enumerable.Repeat(new string('d', 60), 4)) + ".test";
        var (kind, apply) = Pick<(string, Action)>(
        [
            ("from with a 65-byte local part", () => email["from"] = $"Acme <{longLocal}>"),
            ("to with a 65-byte local part", () => email["to"] = new JsonArray(longLocal)),
            ("bcc over 254 bytes", () => email["bcc"] = new JsonArray(longAddress)),
            ("reply_to over 254 bytes", () => email["reply_to"] = new JsonArray(longAddress)),
            ("51 metadata entries", () => email["metadata"] = new JsonObject(Enumerable.Range(0, 51).Select(i => KeyValuePair.Create($"k{i}", (JsonNode?)JsonValue.Create("v"))))),
            ("a 1,001-byte metadata value", () => email["metadata"] = new JsonObject { ["blob"] = new string('x', 1001) }),
            ("a metadata value of 334 three-byte characters", () => email["metadata"] = new JsonObject { ["blob"] = new string('€', 334) }),
        ]);
        apply();
        return new HostileRequest(kind, "/v1/emails", Utf8(email), Json);
    }

    /// <summary>Above the ingress's body limit: with a Content-Length, chunked, or a valid email whose text is too big.</summary>
    private HostileRequest Oversize(bool chunked, bool valid = false)
    {
        if (valid)
        {
            var email = ValidEmail();
            email["text"] = new string('x', maxBodyBytes + 1);
            return new HostileRequest("valid email above the body limit", "/v1/emails", Utf8(email), Json);
        }

        var body = Encoding.UTF8.GetBytes("{\"subject\": \"" + new string('x', maxBodyBytes) + "\"}");
        return new HostileRequest(chunked ? "oversize body, chunked" : "oversize body", "/v1/emails", body, Json, Chunked: chunked);
    }

    private T Pick<T>(IReadOnlyList<T> values) => values[_random.Next(values.Count)];

    private byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        _random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>The JSON with one structural character (brace, bracket, quote, colon, comma) replaced.</summary>
    private byte[] Flip(byte[] json)
    {
        var copy = json.ToArray();
        var structural = Enumerable.Range(0, copy.Length).Where(i => copy[i] is (byte)'{' or (byte)'}' or (byte)'[' or (byte)']' or (byte)'"' or (byte)':' or (byte)',').ToList();
        copy[structural[_random.Next(structural.Count)]] = Pick("#;=)<"u8.ToArray());
        return copy;
    }

    private static string Escape(string control) =>
        string.Concat(control.Select(c => char.IsControl(c) || c is '\u2028' or '\u2029' ? $"\\u{(int)c:x4}" : c.ToString()));
}
