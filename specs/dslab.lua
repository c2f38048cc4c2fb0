-- dslab.lua: a Wireshark dissector for the kit's record (specs/protocol.md,
-- section 1), so that Wireshark and tshark show each datagram's type, key
-- and value by name.
--
-- For the instructor
-- ==================
--
-- The grader writes a capture of each test (`--trace DIR`, and beside each
-- failing test's diagram): every datagram the proxy passed, with real IPv4
-- and UDP headers (grader/src/report/pcap.rs says which legs, which ports,
-- which times). Open it with this script loaded:
--
--   wireshark -X lua_script:specs/dslab.lua test.pcap
--   tshark -r test.pcap -X lua_script:specs/dslab.lua
--   tshark -r test.pcap -X lua_script:specs/dslab.lua -T fields \
--          -e udp.srcport -e udp.dstport -e dslab.type -e dslab.key -e dslab.value
--
-- or copy it to your personal plugins folder (Help > About Wireshark >
-- Folders, "Personal Lua Plugins"; on Linux ~/.local/lib/wireshark/plugins/)
-- to have it always.
--
-- Which datagrams it decodes
-- --------------------------
--
-- The kit's ports change with every test (the grader leases them), so
-- the dissector does not wait on fixed ports. It is a *heuristic*
-- dissector of UDP: it takes a datagram that looks like a record, that is,
-- one of 17 or 33 bytes whose first byte is a known type code (0 to 5).
-- Anything else is left to other dissectors, so it can stay loaded while
-- looking at other traffic. A record that looks right but breaks a rule of
-- protocol.md (no NUL in a field, text that is not UTF-8) is shown with a
-- "malformed" expert item that gives the reason in protocol.md's words;
-- open Analyze > Expert Information, or filter with `_ws.expert.group ==
-- "Malformed"` or `dslab.malformed`.
--
-- When Wireshark shows a kit datagram as something else, another
-- dissector owns that port number (20000 is DNP 3.0's, for instance) and
-- was asked first. Either tell UDP to try heuristics first (Edit >
-- Preferences > Protocols > UDP > "Try heuristic sub-dissectors first",
-- or `-o udp.try_heuristic_first:TRUE` for tshark), or use Analyze >
-- Decode As... > UDP port > DSLAB, which also decodes datagrams that do
-- not look like records at all (wrong length, unknown type), each marked
-- malformed. Ports can also be given once and for all in Edit >
-- Preferences > Protocols > DSLAB.
--
-- Fields, for display filters and `tshark -e`
-- -------------------------------------------
--
--   dslab.type    the type by name: READ_REQ, READ_REP, WRITE_REQ,
--                 WRITE_REP, CACHE_HIT, CACHE_MISS (dslab.type == "WRITE_REQ")
--   dslab.code    the type code, the first byte (0 to 5)
--   dslab.key     the key: the text before the first NUL of bytes 1 to 16
--   dslab.value   the value, from bytes 17 to 32; absent from a 17-byte
--                 record (its value is empty)
--   dslab.length  the record's length: 17 (short form) or 33
--
-- Examples: `dslab.key == "AAAAAAAAAAotIhz"` (one key's whole history),
-- `dslab.type == "WRITE_REQ" && udp.dstport == 5002` (the forwards to a
-- backup, on the proxy's leg towards it).
--
-- This is teaching code: it checks a datagram in protocol.md's order,
-- field by field, like the receivers the students write.

local dslab = Proto("dslab", "dslab-kit record")

-- The message types of protocol.md, by code.
local TYPES = {
    [0] = "READ_REQ",
    [1] = "READ_REP",
    [2] = "WRITE_REQ",
    [3] = "WRITE_REP",
    [4] = "CACHE_HIT",
    [5] = "CACHE_MISS",
}

local SHORT = 17 -- the type and the key
local FULL = 33  -- the type, the key and the value
local FIELD = 16 -- a key or a value: up to 15 bytes of text, then a NUL

local f_type = ProtoField.string("dslab.type", "Type")
local f_code = ProtoField.uint8("dslab.code", "Type code", base.DEC, TYPES)
local f_key = ProtoField.string("dslab.key", "Key")
local f_value = ProtoField.string("dslab.value", "Value")
local f_length = ProtoField.uint16("dslab.length", "Record length", base.DEC)
dslab.fields = { f_type, f_code, f_key, f_value, f_length }

local e_malformed = ProtoExpert.new("dslab.malformed", "Malformed record",
    expert.group.MALFORMED, expert.severity.ERROR)
dslab.experts = { e_malformed }

-- Ports to decode as records whatever they carry (none by default).
dslab.prefs.ports = Pref.range("UDP ports", "", "UDP ports whose datagrams are always decoded as kit records", 65535)

-- Whether `s` is valid UTF-8, strictly: no overlong forms, no surrogates,
-- nothing above U+10FFFF (RFC 3629, as Rust's `str::from_utf8`). Written
-- out because Wireshark's Lua (5.2 in many builds) has no `utf8` library.
local function is_utf8(s)
    local i, n = 1, #s
    while i <= n do
        local c = s:byte(i)
        local len, min
        if c < 0x80 then
            len, min = 1, 0
        elseif c >= 0xC2 and c <= 0xDF then
            len, min = 2, 0x80
        elseif c >= 0xE0 and c <= 0xEF then
            len, min = 3, 0x800
        elseif c >= 0xF0 and c <= 0xF4 then
            len, min = 4, 0x10000
        else
            return false -- a continuation byte first, or C0, C1, F5 to FF
        end
        if i + len - 1 > n then
            return false
        end
        local cp = (len == 1) and c or (c % (2 ^ (7 - len)))
        for k = 1, len - 1 do
            local b = s:byte(i + k)
            if b < 0x80 or b > 0xBF then
                return false
            end
            cp = cp * 64 + (b - 0x80)
        end
        if cp < min or cp > 0x10FFFF or (cp >= 0xD800 and cp <= 0xDFFF) then
            return false
        end
        i = i + len
    end
    return true
end

-- Reads the text field at `offset` (key or value) into `tree`. Returns
-- the text, or nil and protocol.md's reason when the field is malformed;
-- a malformed field is shown as a note, not as a `dslab.key` or
-- `dslab.value`, so that no filter mistakes it for a real key.
local function text_field(tvb, tree, field, offset, name)
    local label = name:sub(1, 1):upper() .. name:sub(2)
    local raw = tvb(offset, FIELD):raw()
    local nul = raw:find("\0", 1, true)
    if not nul then
        tree:add(tvb(offset, FIELD), label .. ": no NUL within 16 bytes")
        return nil, name .. " is not NUL-terminated within 16 bytes"
    end
    local text = raw:sub(1, nul - 1)
    if not is_utf8(text) then
        tree:add(tvb(offset, nul), label .. ": not UTF-8: " .. tvb(offset, nul - 1):bytes():tohex())
        return nil, name .. " is not UTF-8 text"
    end
    -- The item covers the text and its NUL; bytes after the NUL are
    -- ignored, whatever they are (C senders leave garbage there).
    tree:add(field, tvb(offset, nul), text)
    return text
end

-- Marks the record malformed, for the expert system, the tree and the
-- Info column.
local function malformed(pinfo, tree, reason)
    tree:add_proto_expert_info(e_malformed, "Malformed record: " .. reason)
    pinfo.cols.info:append(" [malformed: " .. reason .. "]")
end

-- Decodes one datagram as a record, checking it in protocol.md's order:
-- length, type, key, value. The first check that fails makes it malformed;
-- what could be read before it is still shown.
function dslab.dissector(tvb, pinfo, tree)
    local len = tvb:len()
    pinfo.cols.protocol = "DSLAB"
    local subtree = tree:add(dslab, tvb(), "dslab-kit record")
    subtree:add(f_length, tvb(), len)
    if len ~= SHORT and len ~= FULL then
        pinfo.cols.info:set("record of " .. len .. " bytes")
        malformed(pinfo, subtree, "datagram of " .. len .. " bytes: a record is 17 or 33 bytes")
        return len
    end
    local code = tvb(0, 1):uint()
    local name = TYPES[code]
    subtree:add(f_code, tvb(0, 1))
    if not name then
        pinfo.cols.info:set("type " .. code)
        malformed(pinfo, subtree, "unknown message type " .. code)
        return len
    end
    subtree:add(f_type, tvb(0, 1), name)
    pinfo.cols.info:set(name)
    subtree:append_text(": " .. name)

    local key, why = text_field(tvb, subtree, f_key, 1, "key")
    if not key then
        malformed(pinfo, subtree, why)
        return len
    end
    pinfo.cols.info:append(" Key: " .. key)
    if len == FULL then
        local value
        value, why = text_field(tvb, subtree, f_value, 1 + FIELD, "value")
        if not value then
            malformed(pinfo, subtree, why)
            return len
        end
        pinfo.cols.info:append(" Value: " .. value)
    else
        pinfo.cols.info:append(" (short form)")
    end
    return len
end

-- The heuristic: a datagram of a record's length that starts with a known
-- type. Claiming it makes UDP look no further; declining leaves it to the
-- others.
local function looks_like_a_record(tvb, pinfo, tree)
    local len = tvb:len()
    if len ~= SHORT and len ~= FULL then
        return false
    end
    if not TYPES[tvb(0, 1):uint()] then
        return false
    end
    dslab.dissector(tvb, pinfo, tree)
    return true
end
dslab:register_heuristic("udp", looks_like_a_record)

-- "Decode As" by name, on any UDP port.
local udp_port = DissectorTable.get("udp.port")
udp_port:add_for_decode_as(dslab)

-- The ports of the preference, kept in step with it.
local registered = nil
function dslab.prefs_changed()
    if registered then
        udp_port:remove(registered, dslab)
    end
    registered = dslab.prefs.ports
    if registered and tostring(registered) ~= "" then
        udp_port:add(registered, dslab)
    end
end
