package transcode

// WebSocketCloseReason fits a status message into the 123 bytes a
// WebSocket close frame's reason holds, cutting at a UTF-8 boundary and
// marking the cut with "...".
func WebSocketCloseReason(msg string) string {
	const max = 123
	if len(msg) <= max {
		return msg
	}
	cut := max - 3
	for cut > 0 && msg[cut]&0xC0 == 0x80 {
		cut--
	}
	return msg[:cut] + "..."
}
